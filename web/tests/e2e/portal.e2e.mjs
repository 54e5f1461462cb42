// The portal end to end, in Debian's Chromium driven by playwright-core, against a real
// `sextant run` (cli/tests/test_portal_end_to_end.py starts it and runs this script):
// sign in through the one-time link, create a tenant, a workspace and a Jira source in
// the pages, send the source signed webhooks, see the developer appear, read the
// forecast chart's numbers and the metrics' throughput against the API, open the
// developer's page (its trends, then the privacy answer), request a report and see its
// notification arrive live over the WebSocket, download it, schedule one and delete it,
// sign out. Every page gets a screenshot and
// an axe-core check (no serious or critical violation).
//
// Environment: SEXTANT_URL, SEXTANT_SIGN_IN_URL, SEXTANT_WEBHOOKS (a folder of Jira
// webhook bodies, sent in name order), SEXTANT_ARTIFACTS (screenshots and timings.json go
// there), SEXTANT_E2E_ROUNDS (rounds of page timings: 1; the bench asks for more).
import assert from "node:assert/strict";
import { createHmac, randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const BASE = required("SEXTANT_URL");
const SIGN_IN = required("SEXTANT_SIGN_IN_URL");
const WEBHOOKS = required("SEXTANT_WEBHOOKS");
const ARTIFACTS = required("SEXTANT_ARTIFACTS");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const ROUNDS = Number(process.env.SEXTANT_E2E_ROUNDS ?? 1);
const timings = {};

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`set ${name}`);
  return value;
}

function step(text) {
  console.log(`e2e: ${text}`);
}

async function until(what, check, seconds = 90) {
  const deadline = Date.now() + seconds * 1000;
  let last;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`${what}: not within ${seconds} s${last ? ` (${last})` : ""}`);
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** The first run after ``now`` of a monthly schedule on day 31 at 08:00 in Tokyo (UTC+9 all
 * year): each month's last day, 08:00 there being 23:00 UTC the day before. */
function monthEndInTokyo(now) {
  const tokyo = new Date(now + 9 * 3_600_000);
  for (let month = tokyo.getUTCMonth(); ; month++) {
    const last = new Date(Date.UTC(tokyo.getUTCFullYear(), month + 1, 0)); // day 0: the one before the 1st
    const at = Date.UTC(last.getUTCFullYear(), last.getUTCMonth(), last.getUTCDate(), 8 - 9);
    if (at > now) return { at, year: last.getUTCFullYear(), month: last.getUTCMonth(), day: last.getUTCDate() };
  }
}

/** Screenshot and axe-check the page as it stands. */
async function inspect(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  await page.evaluate(AXE); // evaluated, not a <script>: the portal's CSP allows none inline
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ["violations"] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help }));
  });
  const grave = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(grave, [], `${name}: axe-core found ${JSON.stringify(grave)}`);
  step(`${name}: screenshot, axe-core clean (${violations.length} minor)`);
}

/** Open a page from the navigation; note how long until its heading shows. */
async function open(page, link, heading) {
  await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: link }).click();
  await page.getByRole("heading", { level: 1, name: heading }).waitFor();
}

async function sendWebhooks(url, secret) {
  for (const name of readdirSync(WEBHOOKS).sort()) {
    const body = readFileSync(join(WEBHOOKS, name));
    const signature = createHmac("sha256", secret).update(body).digest("hex");
    const reply = await fetch(url, {
      method: "POST",
      body,
      headers: {
        "content-type": "application/json",
        "x-hub-signature": `sha256=${signature}`,
        "x-atlassian-webhook-identifier": randomUUID(),
      },
    });
    assert.equal(reply.status, 202, `${name}: ${reply.status} ${await reply.text()}`);
  }
}

mkdirSync(ARTIFACTS, { recursive: true });
const profile = mkdtempSync(join(tmpdir(), "sextant-e2e-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
  viewport: { width: 1280, height: 900 },
  locale: "en-GB", // the viewer's locale, which writes the portal's dates: one the steps can read
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(30_000);
  const consoleErrors = [];
  page.on("console", (message) => message.type() === "error" && consoleErrors.push(message.text()));
  page.on("pageerror", (error) => consoleErrors.push(String(error)));

  step("a visitor without a session is asked to sign in");
  await page.goto(`${BASE}/forecasts`);
  await page.getByText("Sign in with the one-time link").waitFor();
  await inspect(page, "0-signed-out");

  step("sign in through the one-time link");
  const started = Date.now();
  await page.goto(SIGN_IN);
  assert.equal(new URL(page.url()).pathname, "/");
  await page.getByRole("heading", { level: 1, name: "Tenants" }).waitFor();
  timings.firstLoadMs = Date.now() - started;
  const cookies = await context.cookies(BASE);
  const session = cookies.find((c) => c.name === "sextant_session");
  assert.ok(session, "the link set the session cookie");
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, "Strict");
  const again = await page.request.get(SIGN_IN, { maxRedirects: 0 });
  assert.equal(again.status(), 409, "a sign-in link opens one session");
  await page.getByText("No tenant yet").waitFor();
  await inspect(page, "1-tenants-empty");

  step("create a tenant, then a workspace and a Jira source in it");
  await page.getByLabel("New tenant").fill("E2E Corp");
  await page.getByRole("button", { name: "Create tenant" }).click();
  await page.getByRole("heading", { level: 1, name: "Workspaces & sources" }).waitFor();
  await page.getByText("No workspace yet").waitFor();
  await page.getByLabel("New workspace").fill("eng");
  await page.getByRole("button", { name: "Create workspace" }).click();
  await page.getByRole("heading", { name: "Sources of eng" }).waitFor();
  await page.getByLabel("Tool", { exact: true }).selectOption("jira");
  await page.getByLabel("Name", { exact: true }).fill("ENG");
  await page.getByRole("button", { name: "Connect source" }).click();
  const webhookUrl = await page.getByTestId("webhook-url").textContent();
  const secret = await page.getByTestId("webhook-secret").textContent();
  assert.match(webhookUrl, /\/v1\/hooks\/[0-9a-f-]{36}$/);
  await page.getByRole("cell", { name: webhookUrl }).waitFor(); // listed with its URL
  await inspect(page, "2-workspaces-and-sources");

  // The pages act as platform admin on the chosen tenant: the same path for the API.
  const tenant = await page.evaluate(() => localStorage.getItem("sextant.tenant"));
  const scope = await page.evaluate(() => localStorage.getItem("sextant.scope"));
  assert.ok(tenant && scope?.startsWith("workspace:"));
  const api = (path) => `${BASE}/v1/tenants/${tenant}/${path}`;

  step("send the source's webhooks, signed as Jira signs them");
  await sendWebhooks(webhookUrl, secret);

  step("the developer the issue names appears");
  await open(page, "Developers", "Developers");
  await until("Ada Lovelace in the developers", async () => {
    if (await page.getByRole("cell", { name: "Ada Lovelace" }).count()) return true;
    await page.reload();
    await page.getByRole("heading", { level: 1, name: "Developers" }).waitFor();
    return false;
  });
  await inspect(page, "3-developers");

  step("the overview shows the DORA tiles with their definition");
  await open(page, "Overview", "Overview");
  await page.getByTestId("dora-definition").waitFor();
  const dora = await (await page.request.get(api(`metrics/dora?scope=${scope}`))).json();
  assert.equal(await page.getByTestId("dora-definition").textContent(), dora.definition_id);
  await inspect(page, "4-overview");

  step("a forecast's chart shows the API's numbers");
  const query = `forecasts/when?scope=${scope}&items=3`;
  const expected = await until("a forecast of the workspace", async () => {
    const reply = await page.request.get(api(query));
    return reply.ok() ? reply.json() : null;
  });
  await open(page, "Forecasts", "Forecasts");
  await page.getByLabel("Items", { exact: true }).fill("3");
  await page.getByRole("button", { name: "Forecast" }).click();
  await page.getByRole("img", { name: /When 3 items are done/ }).waitFor();
  const shown = {};
  for (const confidence of Object.keys(expected.percentiles)) {
    shown[confidence] = await page.getByTestId(`percentile-${confidence}`).textContent();
  }
  const wanted = Object.fromEntries(
    Object.entries(expected.percentiles).map(([c, v]) => [c, v ?? "beyond the horizon"]),
  );
  assert.deepEqual(shown, wanted, "the chart's percentiles are the API's");
  assert.ok(Object.keys(shown).length >= 3, "the forecast has its percentiles");
  assert.ok(expected.inputs.model.length > 0, "the API says what it sampled");
  assert.equal(
    await page.getByTestId("forecast-model").textContent(),
    `Sampled: ${expected.inputs.model}`,
    "the portal says what was sampled, as the API does",
  );
  await inspect(page, "5-forecast");

  step("the other theme is checked too, the chart in it");
  await page.getByRole("button", { name: /Use the (dark|light) theme/ }).click();
  await inspect(page, "6-forecast-other-theme");

  step("a forecast the API refuses shows its problem+json");
  await page.getByLabel("Items", { exact: true }).fill("0");
  await page.getByLabel("Items", { exact: true }).evaluate((input) => input.removeAttribute("min"));
  await page.getByRole("button", { name: "Forecast" }).click();
  const alert = page.getByRole("alert");
  await alert.waitFor();
  assert.match(await alert.textContent(), /422/);
  assert.match(await alert.textContent(), /items/);

  step("the metrics page: DORA under another definition, flow and review load");
  await open(page, "Metrics", "Metrics");
  await page.getByLabel("Definition", { exact: true }).selectOption("dora-2021");
  await page.getByTestId("dora-definition").filter({ hasText: "dora-2021" }).waitFor();
  const flow = await (await page.request.get(api(`metrics/flow?scope=${scope}`))).json();
  await page.getByTestId("flow-throughput").waitFor();
  assert.equal(
    await page.getByTestId("flow-throughput").textContent(),
    String(flow.total.work_items.throughput),
    "the page's throughput is the API's",
  );
  await inspect(page, "7-metrics");
  await page.setViewportSize({ width: 390, height: 844 });
  await inspect(page, "8-metrics-phone");
  await page.setViewportSize({ width: 1280, height: 900 });

  step("a developer's page: accounts, trends, and the privacy answer when switched off");
  await open(page, "Developers", "Developers");
  await page.getByRole("link", { name: "Ada Lovelace" }).click();
  await page.getByRole("heading", { level: 1, name: "Ada Lovelace" }).waitFor();
  await page.getByRole("group", { name: "Trend window" }).waitFor();
  await page.getByRole("button", { name: "4 weeks" }).click();
  await page.getByText("The last 4 weeks against the 52 before").waitFor();
  await inspect(page, "9-developer");
  const csrf = (await (await page.request.get(`${BASE}/v1/session`)).json()).csrf_token;
  const setMetrics = async (on) => {
    const reply = await page.request.put(api("metrics/developer-settings"), {
      data: { developer_metrics_enabled: on },
      headers: { "X-CSRF-Token": csrf, Origin: BASE },
    });
    assert.equal(reply.status(), 200, await reply.text());
  };
  await setMetrics(false);
  await page.reload();
  await page.getByTestId("trends-private").waitFor();
  assert.match(await page.getByTestId("trends-private").textContent(), /turned off/);
  await setMetrics(true);

  step("a source's deliveries as the API lists them, and a replay of them");
  await open(page, "Workspaces & sources", "Workspaces & sources");
  await page.getByRole("button", { name: "Deliveries of ENG" }).click();
  const sourceId = webhookUrl.split("/").pop();
  const deliveries = await (await page.request.get(api(`sources/${sourceId}/deliveries?limit=20`))).json();
  const activity = page.getByRole("region", { name: "Deliveries of ENG" });
  await activity.getByRole("table").waitFor();
  assert.equal(await activity.getByRole("row").count(), deliveries.items.length + 1, "a row per delivery");
  await activity.getByRole("button", { name: "Replay the last 30 days" }).click();
  await activity.getByText(`Replayed ${deliveries.items.length} deliveries`).waitFor();

  step("request a report; its notification arrives live over the WebSocket; download it");
  const unread = async () => Number(await page.getByTestId("unread-count").textContent());
  const before = await unread();
  await open(page, "Reports", "Reports");
  await page.getByRole("button", { name: "Request report" }).click();
  const link = page.getByRole("link", { name: /^Download dora CSV/ });
  await link.waitFor({ timeout: 90_000 });
  await until("the report's notification, live", async () => (await unread()) === before + 1, 30);
  const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
  const downloaded = readFileSync(await download.path(), "utf8");
  const reports = await (await page.request.get(api("reports?limit=50"))).json();
  const done = reports.items.find((r) => r.status === "done");
  const file = await (await page.request.get(api(`reports/${done.id}/file`))).text();
  assert.equal(downloaded, file, "the download is the API's file");
  await inspect(page, "10-reports");
  await page.getByTestId("notifications-button").click();
  await page.getByText(/^Report ready: dora/).waitFor();
  await inspect(page, "11-notifications");
  await page.getByRole("button", { name: "Mark all read" }).click();
  await until("all read", async () => (await unread()) === 0, 10);
  await page.getByTestId("notifications-button").click();

  step("schedule a report on the Reports page, see it listed as the API has it, delete it");
  await open(page, "Reports", "Reports");
  const schedules = page.getByRole("region", { name: "Schedules" });
  await schedules.getByText("No schedule yet").waitFor();
  await schedules.getByLabel(/^Every/).selectOption("monthly");
  await schedules.getByLabel(/^On\b/).selectOption("31");
  await schedules.getByLabel("Time zone", { exact: true }).fill("Asia/Tokyo");
  const firstRun = monthEndInTokyo(Date.now());
  await schedules.getByRole("button", { name: "Create schedule" }).click();
  await schedules.getByRole("cell", { name: "monthly on day 31 at 08:00 (Asia/Tokyo)" }).waitFor();
  await inspect(page, "10b-report-schedules");
  const [made] = (await (await page.request.get(api("report-schedules"))).json()).items;
  assert.equal(made.scope, scope, "created over the page's scope");
  assert.equal(Date.parse(made.next_run_at), firstRun.at, "runs first on the month's last day, 08:00 in Tokyo");
  const row = schedules.getByTestId(`schedule-${made.id}`);
  // en-GB's medium date: "31 Dec 2026, 08:00" (September is "Sep" or "Sept" by ICU version).
  const { year, month, day } = firstRun;
  await row.getByRole("cell", { name: new RegExp(`^${day} ${MONTHS[month]}t? ${year}, 08:00 \\(Asia/Tokyo\\)$`) }).waitFor();
  await row.getByRole("cell", { name: "never", exact: true }).waitFor();
  assert.equal(await row.getByRole("button", { name: "Open the last report" }).count(), 0, "no last report yet");
  await row.getByRole("button", { name: "Delete" }).click();
  await row.getByRole("button", { name: "Yes, delete it" }).click();
  await schedules.getByText("No schedule yet").waitFor();
  assert.deepEqual((await (await page.request.get(api("report-schedules"))).json()).items, []);

  step("the admin page: the audit log's chain holds as the API says");
  await open(page, "Admin", "Admin");
  await page.getByRole("button", { name: "Check the chain" }).click();
  const verdict = await (await page.request.get(api("audit-log/verify"))).json();
  assert.equal(verdict.intact, true);
  await page.getByTestId("audit-chain").filter({ hasText: "The chain holds" }).waitFor();
  await inspect(page, "12-admin");

  step("the gates page: the scope's policy and its evaluations");
  await open(page, "Gates", "Gates");
  await page.getByLabel("Rules and who may override (JSON)").waitFor();
  await page.getByText("No gate evaluated yet").waitFor();
  await inspect(page, "13-gates");

  step("stale work: the scope's outliers, or that there are none");
  await open(page, "Stale work", "Stale work");
  const staleReply = await (await page.request.get(api(`work-items/stale?scope=${scope}`))).json();
  if (staleReply.items.length === 0) await page.getByText("Nothing stale").waitFor();
  else await page.getByRole("cell", { name: staleReply.items[0].key }).waitFor();
  await inspect(page, "14-stale");

  step("team health: a run from the page, its suggestions as the API lists them, a verdict");
  await open(page, "Team health", "Team health");
  await page.getByRole("button", { name: "Look for problems now" }).click();
  await page.getByRole("button", { name: "Look for problems now" }).waitFor({ timeout: 60_000 });
  const listed = await (await page.request.get(api(`suggestions?scope=${scope}`))).json();
  if (listed.items.length === 0) await page.getByText("No open suggestion").waitFor();
  else {
    assert.equal(await page.locator("ol.suggestions > li").count(), listed.items.length);
    await page.getByRole("button", { name: `Confirm ${listed.items[0].title}` }).click();
    await page.getByRole("cell", { name: /confirmed/ }).first().waitFor();
    const after = await (await page.request.get(api(`suggestions?scope=${scope}&status=confirmed`))).json();
    assert.deepEqual(after.items.map((s) => s.id), [listed.items[0].id]);
  }
  await inspect(page, "14b-health");

  step("time each page: from its link until its data shows, and its API call alone");
  const timed = [
    ["Overview", () => page.getByTestId("dora-definition"), `metrics/dora?scope=${scope}`],
    ["Workspaces & sources", () => page.getByRole("heading", { name: "Sources of eng" }), "workspaces?limit=50"],
    ["Developers", () => page.getByRole("cell", { name: "Ada Lovelace" }), "developers?limit=50"],
    ["Forecasts", () => page.getByRole("img", { name: /When 3 items are done/ }), query],
    ["Metrics", () => page.getByTestId("flow-throughput"), `metrics/flow?scope=${scope}`],
    ["Reports", () => page.getByRole("link", { name: /^Download dora CSV/ }), "reports?limit=50"],
  ];
  const pageMs = {};
  const apiMs = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const [link, ready, path] of timed) {
      let started = performance.now();
      await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: link }).click();
      if (link === "Forecasts") {
        await page.getByLabel("Items", { exact: true }).fill("3");
        started = performance.now();
        await page.getByRole("button", { name: "Forecast" }).click();
      }
      await ready().waitFor();
      (pageMs[link] ??= []).push(performance.now() - started);
      started = performance.now();
      assert.ok((await page.request.get(api(path))).ok(), path);
      (apiMs[link] ??= []).push(performance.now() - started);
    }
  }
  timings.pages = pageMs;
  timings.api = apiMs;

  step("another tenant sees none of it; its empty workspace list offers the demo");
  await open(page, "Tenants", "Tenants");
  await page.getByLabel("New tenant").fill("Other Corp");
  await page.getByRole("button", { name: "Create tenant" }).click();
  await page.getByRole("heading", { level: 1, name: "Workspaces & sources" }).waitFor();
  await page.getByText("No workspace yet").waitFor();
  await page.getByRole("button", { name: "Load the demo" }).click();
  assert.equal(await page.getByTestId("demo-command").textContent(), ".venv/bin/sextant demo");
  await inspect(page, "15-other-tenant");
  await open(page, "Developers", "Developers");
  await page.getByText("No developer yet").waitFor();
  assert.equal(await page.getByRole("cell", { name: "Ada Lovelace" }).count(), 0);

  step("sign out ends the session");
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByText("Sign in with the one-time link").waitFor();
  const after = await page.request.get(`${BASE}/v1/me`);
  assert.equal(after.status(), 401);
  assert.deepEqual(consoleErrors.filter((e) => !/status of 4\d\d/.test(e)), []);
  writeFileSync(join(ARTIFACTS, "timings.json"), JSON.stringify(timings, null, 2));
  step(`first load ${timings.firstLoadMs} ms; pages (ms): ${JSON.stringify(pageMs)}`);
  step("passed");
} catch (error) {
  // What the page showed when a step failed: its text, and a screenshot beside the others.
  const page = context.pages()[0];
  if (page) {
    await page.screenshot({ path: join(ARTIFACTS, "failed.png"), fullPage: true }).catch(() => {});
    console.log(`e2e: the page at ${page.url()} read:\n${await page.locator("body").innerText().catch(() => "?")}`);
  }
  throw error;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
