import { useState, type FormEvent } from "react";
import { api, type Schemas } from "../api/client";
import { unwrap, type Problem } from "../api/problem";
import { FanChart, type Point } from "../components/FanChart";
import { ProblemMessage } from "../components/ProblemMessage";
import { Empty, Loading } from "../components/States";
import { usePortal } from "../session";
import { asProblem } from "../useLoaded";

type Question = "when" | "how-many";
type Answer =
  | { question: "when"; reply: Schemas["WhenReply"] }
  | { question: "how-many"; reply: Schemas["HowManyReply"] };

function inFourWeeks(): string {
  return new Date(Date.now() + 28 * 86_400_000).toISOString().slice(0, 10);
}

/** What was sampled (blocks and a level factor, or single weeks) and why. */
function Model({ inputs }: { inputs: Schemas["Inputs"] }) {
  return (
    <p className="hint" data-testid="forecast-model">
      Sampled: {inputs.model}
    </p>
  );
}

function Calibration({ report }: { report: Schemas["CalibrationReport"] }) {
  if (!report.available)
    return <p className="hint">Calibration: not available ({report.reason ?? "too little history"}).</p>;
  return (
    <table>
      <caption>How this method's forecasts held on this scope's own history</caption>
      <thead>
        <tr>
          <th scope="col">Horizon</th>
          <th scope="col">Forecasts</th>
          <th scope="col">Held at P50</th>
          <th scope="col">Held at P85</th>
        </tr>
      </thead>
      <tbody>
        {(report.rows ?? []).map((row) => (
          <tr key={row.horizon_weeks}>
            <td>{row.horizon_weeks} weeks</td>
            <td>{row.origins}</td>
            <td>{((row.hit_share["50"] ?? 0) * 100).toFixed(0)} %</td>
            <td>{((row.hit_share["85"] ?? 0) * 100).toFixed(0)} %</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Monte Carlo forecasts of the chosen scope: when N items are done, or how many by a
 * date, drawn as a confidence-interval fan with the percentiles as text. */
export function Forecasts() {
  const { scope } = usePortal();
  const [question, setQuestion] = useState<Question>("when");
  const [items, setItems] = useState(10);
  const [until, setUntil] = useState(inFourWeeks);
  const [answer, setAnswer] = useState<Answer | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);

  if (scope === null)
    return (
      <section aria-labelledby="forecasts-title">
        <h1 id="forecasts-title">Forecasts</h1>
        <Empty>Choose or create a workspace under Workspaces &amp; sources first.</Empty>
      </section>
    );

  const ask = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    setAnswer(null);
    try {
      if (question === "when") {
        const reply = unwrap(
          await api.GET("/v1/forecasts/when", { params: { query: { scope, items } } }),
        );
        setAnswer({ question, reply } as Answer);
      } else {
        const reply = unwrap(
          await api.GET("/v1/forecasts/how-many", { params: { query: { scope, until } } }),
        );
        setAnswer({ question, reply } as Answer);
      }
    } catch (error) {
      setProblem(asProblem(error));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="forecasts-title">
      <h1 id="forecasts-title">Forecasts</h1>
      <form onSubmit={ask} className="forecast-form">
        <fieldset>
          <legend>Question</legend>
          <label>
            <input
              type="radio"
              name="question"
              checked={question === "when"}
              onChange={() => setQuestion("when")}
            />{" "}
            When will N items be done?
          </label>
          <label>
            <input
              type="radio"
              name="question"
              checked={question === "how-many"}
              onChange={() => setQuestion("how-many")}
            />{" "}
            How many items by a date?
          </label>
        </fieldset>
        {question === "when" ? (
          <>
            <label htmlFor="forecast-items">Items</label>
            <input
              id="forecast-items"
              type="number"
              min={1}
              max={100000}
              value={items}
              onChange={(e) => setItems(Number(e.target.value))}
            />
          </>
        ) : (
          <>
            <label htmlFor="forecast-until">Until</label>
            <input
              id="forecast-until"
              type="date"
              value={until}
              onChange={(e) => setUntil(e.target.value)}
            />
          </>
        )}
        <button type="submit">Forecast</button>
      </form>
      {busy && <Loading what="the forecast" />}
      {problem && <ProblemMessage problem={problem} />}
      {answer?.question === "when" && (
        <>
          <FanChart
            title={`When ${answer.reply.items} items are done`}
            unit="date"
            curve={answer.reply.curve as Point[]}
            percentiles={answer.reply.percentiles}
          />
          <Model inputs={answer.reply.inputs} />
          <Calibration report={answer.reply.calibration} />
        </>
      )}
      {answer?.question === "how-many" && (
        <>
          <FanChart
            title={`How many items by ${answer.reply.until}`}
            unit="items"
            curve={answer.reply.curve as Point[]}
            percentiles={answer.reply.percentiles}
          />
          <Model inputs={answer.reply.inputs} />
          <Calibration report={answer.reply.calibration} />
        </>
      )}
    </section>
  );
}
