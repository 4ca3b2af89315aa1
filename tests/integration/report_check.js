// Opens a results directory's report.html in headless Chromium from a file:// URL with the
// network off, as a reader would offline, and checks: no console error or failed request, every
// chart an image that decoded (width and height), every latency percentile of summary.json in
// the table, the SLO verdict and the completion rate shown. Keeps a full-page screenshot.
// Usage: node report_check.js RESULTS_DIR SCREENSHOT.png
'use strict';
const fs = require('fs');
const path = require('path');
const puppeteer = require('puppeteer-core');

function chromiumPath() {
  for (const candidate of ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome']) {
    if (fs.existsSync(candidate)) return candidate;
  }
  throw new Error('no Chromium installed');
}

// summary.json's numbers as the report prints them: three decimals at most, zeros trimmed.
function printed(value) {
  if (Number.isInteger(value)) return String(value);
  return value.toFixed(3).replace(/0+$/, '').replace(/\.$/, '');
}

async function main() {
  const [dir, screenshot] = process.argv.slice(2);
  const summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
  const browser = await puppeteer.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: ['--no-sandbox', '--disable-gpu'],
  });
  const problems = [];
  try {
    const page = await browser.newPage();
    await page.setOfflineMode(true);
    await page.setViewport({width: 1200, height: 900});
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warn') {
        problems.push(`console ${message.type()}: ${message.text()}`);
      }
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('requestfailed', (request) => problems.push(`request failed: ${request.url().slice(0, 80)}`));
    page.on('request', (request) => {
      if (!request.url().startsWith('file://') && !request.url().startsWith('data:')) {
        problems.push(`request to the network: ${request.url()}`);
      }
    });
    const url = 'file://' + path.resolve(dir, 'report.html');
    await page.goto(url, {waitUntil: 'load'});
    const charts = await page.evaluate(() =>
      Array.from(document.querySelectorAll('figure.chart img')).map((img) => ({
        id: img.closest('figure').id,
        complete: img.complete,
        width: img.naturalWidth,
        height: img.naturalHeight,
        shownWidth: img.getBoundingClientRect().width,
      })));
    if (charts.length < 7) problems.push(`only ${charts.length} charts`);
    for (const chart of charts) {
      if (!chart.complete || chart.width < 100 || chart.height < 100 || chart.shownWidth < 100) {
        problems.push(`chart ${chart.id} not rendered: ${JSON.stringify(chart)}`);
      }
    }
    const cells = await page.evaluate(() => {
      const out = {};
      for (const td of document.querySelectorAll('td[data-metric]')) {
        out[`${td.dataset.metric}.${td.dataset.field}`] = td.textContent;
      }
      return out;
    });
    let checked = 0;
    const collect = summary.benchmark.collect;
    for (const [metric, figures] of Object.entries(summary.latency)) {
      const shown = collect.includes(metric) || metric === 'schedule_lag' || metric === 'e2e_from_intended';
      for (const [key, value] of Object.entries(figures.percentiles)) {
        const cell = cells[`${metric}.${key}`];
        if (!shown) {
          if (cell !== undefined) problems.push(`${metric} is not in metrics.collect but shown`);
          continue;
        }
        if (value === null) continue;
        if (cell !== printed(value)) problems.push(`${metric} ${key}: page ${cell}, summary ${value}`);
        ++checked;
      }
    }
    const text = await page.evaluate(() => document.body.innerText);
    const rate = printed(summary.throughput.requests_per_s) + ' req/s';
    if (!text.includes(rate)) problems.push(`completion rate ${rate} not on the page`);
    const verdict = await page.$eval('#slo-verdict', (e) => e.textContent);
    if (summary.slo.passed === false && !verdict.startsWith('SLO failed')) problems.push(`verdict '${verdict}'`);
    if (summary.slo.passed === true && verdict !== 'every SLO met') problems.push(`verdict '${verdict}'`);
    await page.screenshot({path: screenshot, fullPage: true});
    console.log(`report.html: ${charts.length} charts rendered (${charts.map((c) => c.id.replace('chart-', '')).join(', ')}); ` +
                `${checked} percentiles equal summary.json; verdict '${verdict}'; screenshot ${screenshot}`);
  } finally {
    await browser.close();
  }
  if (problems.length > 0) {
    for (const problem of problems) console.log('FAIL: ' + problem);
    process.exit(1);
  }
}

main().catch((error) => {
  console.log('FAIL: ' + error.stack);
  process.exit(1);
});
