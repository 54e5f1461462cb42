import { downloadHref, type Report } from "../lib/reports";

/** The link that downloads a done report, through the tenant a platform admin acts on
 * (``tenant``); "—" until it is done. The Reports page's list and a schedule's last report
 * both open a report through it. */
export function ReportDownload({ report, tenant }: { report: Report; tenant: string | null }) {
  const href = downloadHref(report, tenant);
  if (!href) return <>—</>;
  return (
    <a href={href} download>
      Download {report.kind} {report.format.toUpperCase()}
      {report.size_bytes !== null && report.size_bytes !== undefined && ` (${report.size_bytes} bytes)`}
    </a>
  );
}
