// The /preview page in a real browser: headless Debian Chromium driven by playwright-core.
// Starts the service binary (CDS_AUTH=none, a free port), opens the page, picks
// scenarios, changes inputs and checks the card text and the highlighted dose-table cell.
//
//   OMALIZUMAB_CDS_BIN   the service binary (required)
//   CHROMIUM             the browser (default /usr/bin/chromium)
//   PREVIEW_SCREENSHOTS  a folder to write the docs/ screenshots to (optional)
//
// Exits non-zero on the first failed check, naming it.
import { readdirSync, existsSync, readFileSync, mkdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { startService } from "./service.mjs";
import { chromium } from "playwright-core";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const bin = process.env.OMALIZUMAB_CDS_BIN;
const browserPath = process.env.CHROMIUM || "/usr/bin/chromium";
const shots = process.env.PREVIEW_SCREENSHOTS;
assert.ok(bin && existsSync(bin), `OMALIZUMAB_CDS_BIN must name the service binary (got ${bin})`);

const scenariosDir = join(root, "fixtures", "scenarios");
const scenarioNames = readdirSync(scenariosDir)
  .filter((d) => existsSync(join(scenariosDir, d, "hook-request.json")))
  .sort();

const checks = [];
async function check(name, fn) {
  try {
    await fn();
    checks.push(name);
    console.log(`ok - ${name}`);
  } catch (e) {
    console.log(`not ok - ${name}`);
    throw e;
  }
}

const { child, base } = await startService(bin, root, { CDS_DEMO_FIXTURES: scenariosDir });
const browser = await chromium.launch({
  executablePath: browserPath,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let failed = false;
const pageErrors = [];
try {
  const page = await browser.newPage({ viewport: { width: 1500, height: 1100 } });
  // Everything the page asks for must come from the service itself.
  const elsewhere = [];
  page.on("request", (r) => {
    if (!r.url().startsWith(base)) elsewhere.push(r.url());
  });
  page.on("pageerror", (e) => pageErrors.push(String(e)));

  const runs = () => page.evaluate(() => Number(document.body.dataset.runs || 0));
  const summary = () => page.locator("[data-testid=summary]").first().innerText();
  const cell = () => page.locator("#results [data-testid=patient-cell]");
  async function pick(name) {
    const before = await runs();
    await page.locator(`nav button[data-scenario="${name}"]`).click();
    await page.waitForFunction((b) => Number(document.body.dataset.runs || 0) > b, before);
    assert.equal(await page.locator("#case-title").innerText(), name);
  }
  async function change(fields) {
    const before = await runs();
    for (const [name, value] of Object.entries(fields)) {
      const input = page.locator(`#changes [name=${name}]`);
      if ((await input.evaluate((e) => e.tagName)) === "SELECT") await input.selectOption(value);
      else await input.fill(String(value));
    }
    await page.locator("#changes button[type=submit]").click();
    await page.waitForFunction((b) => Number(document.body.dataset.runs || 0) > b, before);
  }
  // The highlighted cell's text, and its row and column headers.
  async function highlighted() {
    return cell().evaluate((td) => {
      const tr = td.parentElement;
      const table = td.closest("table");
      const col = Array.from(tr.children).indexOf(td);
      return { text: td.textContent, row: tr.querySelector("th").textContent, column: table.querySelectorAll("thead th")[col].textContent };
    });
  }

  await page.goto(`${base}/preview`);
  await page.locator("body[data-ready=true]").waitFor();

  await check("every built-in scenario is listed", async () => {
    const listed = await page.locator("nav button[data-scenario]").evaluateAll((bs) => bs.map((b) => b.dataset.scenario));
    assert.deepEqual(listed, scenarioNames);
    assert.ok(listed.length >= 40, `${listed.length} scenarios`);
  });

  await check("a dose mismatch is drawn as an EHR draws it, with the engine's cell highlighted", async () => {
    await pick("asthma-adult-dose-mismatch");
    assert.equal(await summary(), "Omalizumab: label table dose is 225 mg every 2 weeks; order is 300 mg every 4 weeks");
    const card = page.locator("[data-testid=card]").first();
    assert.equal(await card.getAttribute("data-indicator"), "warning");
    // Markdown rendered, not shown raw; the decision first.
    assert.equal(await card.locator(".detail strong", { hasText: "Change to 225 mg every 2 weeks:" }).count(), 1);
    const detail = await card.locator(".detail").innerText();
    assert.ok(!detail.includes("**"));
    assert.match(detail.split("\n")[0], /^Change to 225 mg every 2 weeks: the Table 1 dose for IgE >200-300 IU\/mL and >70-90 kg\.$/);
    if (shots) await card.screenshot({ path: join(shots, "card-dose-mismatch.png") });
    const button = card.locator(".suggestions button.recommended");
    assert.match(await button.innerText(), /225 mg every 2 weeks/);
    await button.click();
    assert.match(await card.locator("[data-testid=action-note]").innerText(), /update MedicationRequest: Set the dose to 225 mg every 2 weeks/);
    assert.ok((await card.locator(".links a").count()) >= 1);
    assert.ok((await card.locator("[data-testid=overrides] option").count()) >= 2);
    assert.match(await card.locator(".source").innerText(), /topic: .*dose-mismatch/);
    assert.deepEqual(await highlighted(), { text: "225 mg every 2 weeks", row: ">200-300", column: ">70-90" });
    assert.equal(await cell().count(), 1);
    const facts = await page.locator("[data-testid=facts-used]").first().innerText();
    assert.match(facts, /weight:\s+80 kg/);
    assert.match(facts, /total IgE:\s+250 IU\/mL/);
    const assessment = JSON.parse(await page.locator("[data-testid=assessment]").first().innerText());
    assert.equal(assessment.kind, "dose-mismatch");
    assert.deepEqual(assessment.recommendedDose, { mg: 225, everyWeeks: 2 });
    if (shots) await page.screenshot({ path: join(shots, "preview-dose-mismatch.png"), fullPage: true });
  });

  await check("a lower weight moves the highlighted cell and the order now matches", async () => {
    await change({ weight: 60 });
    assert.equal(await summary(), "Omalizumab 300 mg every 4 weeks matches the label dose for moderate-to-severe persistent asthma");
    assert.equal(await page.locator("[data-testid=card]").first().getAttribute("data-indicator"), "info");
    assert.deepEqual(await highlighted(), { text: "300 mg every 4 weeks", row: ">200-300", column: "≥30-60" });
    assert.match(await page.locator("[data-testid=detail]").first().innerText(), /^Sign as ordered: 300 mg every 4 weeks is the Table 1 dose/);
    if (shots) await page.locator("[data-testid=card]").first().screenshot({ path: join(shots, "card-dose-matches.png") });
    assert.match(await page.locator("#changed").innerText(), /Weight/);
  });

  await check("a weight in lb is converted (200 lb = 90.7 kg)", async () => {
    await change({ weight: 200, weightUnit: "lb" });
    assert.equal(await summary(), "Omalizumab: label table dose is 300 mg every 2 weeks; order is 300 mg every 4 weeks");
    assert.deepEqual(await highlighted(), { text: "300 mg every 2 weeks", row: ">200-300", column: ">90-150" });
    assert.match(await page.locator("[data-testid=facts-used]").first().innerText(), /200 \[lb_av\] = 90\.7 kg/);
  });

  await check("IgE, dose and interval change the card", async () => {
    await change({ ige: 450, doseMg: 375, everyWeeks: 2, weight: 80, weightUnit: "kg" });
    assert.equal(await summary(), "Omalizumab 375 mg every 2 weeks matches the label dose for moderate-to-severe persistent asthma");
    assert.deepEqual(await highlighted(), { text: "375 mg every 2 weeks", row: ">400-500", column: ">70-90" });
    await change({ ige: 650 });
    assert.equal(await page.locator("[data-testid=card]").first().getAttribute("data-indicator"), "critical");
    assert.deepEqual(await highlighted(), { text: "insufficient data to recommend a dose", row: ">600-700", column: ">70-90" });
  });

  await check("a child's asthma table is drawn as bounds only, saying it is not verified", async () => {
    const before = await runs();
    await page.locator("#reset").click();
    await page.waitForFunction((b) => Number(document.body.dataset.runs || 0) > b, before);
    assert.equal(await summary(), "Omalizumab: label table dose is 225 mg every 2 weeks; order is 300 mg every 4 weeks");
    await change({ ageYears: 8, weight: 30, doseMg: 150, everyWeeks: 4 });
    const bounds = page.locator("#results [data-testid=dose-bounds]");
    assert.equal(await bounds.getAttribute("data-table"), "asthma-6-to-11");
    assert.match(await bounds.innerText(), /Not verified/);
    assert.match(await bounds.innerText(), /30 to 1300 IU\/mL/);
    assert.equal(await cell().count(), 0, "no cell may be highlighted in an unverified table");
    assert.match(await summary(), /within table bounds/);
  });

  await check("choosing another indication writes it on the order (CSU: fixed doses)", async () => {
    await change({ indication: "csu", ageYears: 40 });
    assert.equal(await page.locator("#results [data-testid=dose-fixed]").getAttribute("data-table"), "csu");
    // The order now names the indication: the evidence shows it, and there is no note
    // that the indication was assumed from the chart.
    const csu = await page.locator("[data-testid=detail]").first().innerText();
    assert.match(csu, /Evidence: chronic spontaneous urticaria \(L50\.1\)/);
    assert.ok(!csu.includes("Indication from the chart"), csu);
  });

  await check("an unverified food-allergy table says so", async () => {
    await pick("food-allergy-child-unverified-table");
    assert.equal(await summary(), "Omalizumab 150 mg every 4 weeks: within table bounds; check the dose in the IgE-mediated food allergy table");
    assert.match(await page.locator("#results [data-testid=dose-bounds]").innerText(), /Not verified/);
    if (shots) await page.screenshot({ path: join(shots, "preview-unverified-table.png"), fullPage: true });
  });

  await check("documentation gaps are listed with their codes", async () => {
    await pick("csu-antihistamine-missing");
    assert.equal(await summary(), "Omalizumab 300 mg every 4 weeks: 1 documentation gap(s) a payer will ask about");
    const gap = page.locator("[data-testid=detail] li code", { hasText: "antihistamine-trial-missing" });
    assert.equal(await gap.count(), 1);
    if (shots) await page.locator("[data-testid=card]").first().screenshot({ path: join(shots, "card-documentation-gap.png") });
    if (shots) await page.screenshot({ path: join(shots, "preview-documentation-gap.png"), fullPage: true });
  });

  await check("a pasted Bundle of a chart plus an order is run, and its text is never markup", async () => {
    const chart = JSON.parse(readFileSync(join(scenariosDir, "asthma-adult-dose-mismatch", "chart.json"), "utf8"));
    const order = JSON.parse(readFileSync(join(scenariosDir, "asthma-adult-dose-mismatch", "order.json"), "utf8"));
    const condition = chart.entry.find((e) => e.resource.resourceType === "Condition").resource;
    condition.code.text = '<img src="x" onerror="window.__injected=1">Severe asthma **bold**';
    chart.entry.push({ resource: order });
    await page.locator("#paste-text").fill(JSON.stringify(chart));
    const before = await runs();
    await page.locator("#paste-run").click();
    await page.waitForFunction((b) => Number(document.body.dataset.runs || 0) > b, before);
    assert.equal(await page.locator("#case-title").innerText(), "Pasted request");
    assert.equal(await summary(), "Omalizumab: label table dose is 225 mg every 2 weeks; order is 300 mg every 4 weeks");
    assert.equal(await page.locator("#results img").count(), 0);
    assert.match(await page.locator("[data-testid=detail]").first().innerText(), /<img src="x"/);
    assert.equal(await page.evaluate(() => window.__injected), undefined);
  });

  await check("a pasted request naming a FHIR server is refused without calling it", async () => {
    const request = JSON.parse(readFileSync(join(scenariosDir, "asthma-adult-dose-mismatch", "hook-request.json"), "utf8"));
    delete request.prefetch;
    request.fhirServer = "https://ehr.example/fhir";
    request.fhirAuthorization = { access_token: "t", token_type: "Bearer", expires_in: 300, scope: "patient/*.read", subject: "s" };
    await page.locator("#paste-text").fill(JSON.stringify(request));
    await page.locator("#paste-run").click();
    await page.locator("#error:not([hidden])").waitFor();
    assert.match(await page.locator("#error").innerText(), /403 fhir-server-not-allowed/);
  });

  await check("the page asked nothing of any other host and threw no error", async () => {
    assert.deepEqual(elsewhere, []);
    assert.deepEqual(pageErrors, []);
  });
} catch (e) {
  failed = true;
  console.error(e);
  if (pageErrors.length) console.error("page errors:", pageErrors);
} finally {
  await browser.close();
  // Nothing to keep (the store is :memory:): stop at once, leaving no orphan behind.
  child.kill("SIGKILL");
}
console.log(`${checks.length} checks passed${failed ? "; one failed" : ""}`);
process.exit(failed ? 1 : 0);
