import { useState } from "react";

export const DEMO_COMMAND = ".venv/bin/sextant demo";

/** On an empty tenant list or workspace: how to fill the portal with a realistic demo.
 * The demo runs from the CLI, next to `make run`, through the real webhook path (see
 * docs/decisions.md, "The demo from the portal"): the button shows and copies it. */
export function DemoOffer() {
  const [shown, setShown] = useState(false);
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(DEMO_COMMAND);
      setCopied(true);
    } catch {
      setCopied(false); // no clipboard (plain http elsewhere than localhost): select it by hand
    }
  };
  return (
    <div className="demo">
      <button type="button" aria-expanded={shown} aria-controls="demo-command" onClick={() => setShown(!shown)}>
        Load the demo
      </button>
      {shown && (
        <div id="demo-command" className="panel">
          <p>
            In the folder where <code>make run</code> runs, in a second terminal:
          </p>
          <p>
            <code data-testid="demo-command">{DEMO_COMMAND}</code>{" "}
            <button type="button" onClick={copy}>
              Copy
            </button>{" "}
            <span role="status">{copied ? "Copied." : ""}</span>
          </p>
          <p className="hint">
            It creates a tenant named “Demo …” and posts 12 weeks of a team's Jira and GitHub work to it as signed
            webhooks, as the tools would (about a minute); then pick it under Tenants and every page has data.
          </p>
        </div>
      )}
    </div>
  );
}
