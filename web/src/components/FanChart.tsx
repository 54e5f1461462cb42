// The confidence-interval chart of a forecast, drawn from what the API answered: its
// curve (each date or count with the probability the API gives it) and its percentiles.
// Nothing is recomputed here: the bands are the spans between the API's percentiles.
import { useId } from "react";

export type Point = [string | number, number];

export interface FanChartProps {
  title: string;
  /** the API's curve: [date or count, probability 0..1] */
  curve: Point[];
  /** the API's percentiles: confidence ("50", "85", "95") → date or count; null when
   * the API says it lies beyond the forecast's horizon */
  percentiles: Record<string, string | number | null>;
  /** what a count counts, or "date" for a completion date */
  unit: string;
}

const WIDTH = 640;
const HEIGHT = 260;
const PAD = { left: 48, right: 16, top: 16, bottom: 40 };
const DAY = 86_400_000;
const BEYOND = "beyond the horizon";

/** A position on the x axis: days for a date, the number itself for a count. */
export function xValue(value: string | number): number {
  return typeof value === "number" ? value : Date.parse(`${value}T00:00:00Z`) / DAY;
}

function label(value: string | number, unit: string): string {
  return typeof value === "number" ? `${value} ${unit}` : value;
}

/** The confidences in increasing order ("50", "85", "95"). */
export function confidences(percentiles: Record<string, unknown>): string[] {
  return Object.keys(percentiles).sort((a, b) => Number(a) - Number(b));
}

/** A label near either end of the axis grows inwards, so it is never cut off. */
export function edgeAnchor(x: number): "start" | "middle" | "end" {
  if (x > WIDTH - PAD.right - 50) return "end";
  if (x < PAD.left + 50) return "start";
  return "middle";
}

/** One mark per distinct value: percentiles that coincide (a short history often makes
 * them one date) share a mark instead of writing over each other. */
export function marks(
  levels: string[],
  at: (level: string) => string | number,
): { value: string | number; levels: string[] }[] {
  const grouped: { value: string | number; levels: string[] }[] = [];
  for (const level of levels) {
    const same = grouped.find((mark) => mark.value === at(level));
    if (same) same.levels.push(level);
    else grouped.push({ value: at(level), levels: [level] });
  }
  return grouped;
}

export function FanChart({ title, curve, percentiles, unit }: FanChartProps) {
  const id = useId();
  const all = confidences(percentiles);
  const levels = all.filter((c) => percentiles[c] !== null);
  const at = (c: string) => percentiles[c] as string | number;
  const xs = [...curve.map(([x]) => xValue(x)), ...levels.map((c) => xValue(at(c)))];
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  const span = hi - lo || 1;
  const sx = (x: number) => PAD.left + ((x - lo) / span) * (WIDTH - PAD.left - PAD.right);
  const sy = (p: number) => PAD.top + (1 - p) * (HEIGHT - PAD.top - PAD.bottom);
  const ordered = [...curve].sort((a, b) => xValue(a[0]) - xValue(b[0]));
  const line = ordered.map(([x, p]) => `${sx(xValue(x)).toFixed(1)},${sy(p).toFixed(1)}`).join(" ");
  // The fan: from the median outwards, each band up to the next confidence, lighter.
  const bands = levels.slice(1).map((level, i) => {
    const inner = xValue(at(levels[i]));
    const outer = xValue(at(level));
    return { level, from: Math.min(inner, outer), to: Math.max(inner, outer), shade: i };
  });
  const summary = all
    .map((c) => `${c} % confidence: ${percentiles[c] !== null ? label(at(c), unit) : BEYOND}`)
    .join("; ");
  return (
    <figure className="fan-chart">
      <svg
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        role="img"
        aria-labelledby={`${id}-title ${id}-desc`}
        preserveAspectRatio="xMidYMid meet"
      >
        <title id={`${id}-title`}>{title}</title>
        <desc id={`${id}-desc`}>{summary}</desc>
        {bands.map((band) => (
          <rect
            key={band.level}
            className={`band band-${band.shade}`}
            x={sx(band.from)}
            y={PAD.top}
            width={Math.max(sx(band.to) - sx(band.from), 1)}
            height={HEIGHT - PAD.top - PAD.bottom}
          />
        ))}
        {[0, 0.5, 1].map((p) => (
          <g key={p} className="grid">
            <line x1={PAD.left} x2={WIDTH - PAD.right} y1={sy(p)} y2={sy(p)} />
            <text x={PAD.left - 6} y={sy(p) + 4} textAnchor="end">
              {p * 100} %
            </text>
          </g>
        ))}
        {ordered.length > 1 && <polyline className="curve" points={line} fill="none" />}
        {marks(levels, at).map(({ value, levels: same }) => {
          const x = sx(xValue(value));
          const name = same.length === 1 ? `P${same[0]}` : `P${same[0]}–${same[same.length - 1]}`;
          const anchor = edgeAnchor(x);
          return (
            <g key={name} className="mark">
              <line x1={x} x2={x} y1={PAD.top} y2={HEIGHT - PAD.bottom} />
              <text x={x} y={HEIGHT - PAD.bottom + 16} textAnchor={anchor}>
                {name}
              </text>
              <text x={x} y={HEIGHT - 6} textAnchor={anchor} className="value">
                {label(value, unit)}
              </text>
            </g>
          );
        })}
      </svg>
      <figcaption>
        <table className="percentiles">
          <caption>{title}: the forecast's percentiles</caption>
          <thead>
            <tr>
              <th scope="col">Confidence</th>
              <th scope="col">{unit === "date" ? "Done by" : `At least (${unit})`}</th>
            </tr>
          </thead>
          <tbody>
            {all.map((c) => (
              <tr key={c}>
                <th scope="row">{c} %</th>
                <td data-testid={`percentile-${c}`}>{percentiles[c] ?? BEYOND}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </figcaption>
    </figure>
  );
}
