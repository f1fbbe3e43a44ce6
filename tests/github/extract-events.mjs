// Copies real GitHub webhook payloads from @octokit/webhooks-examples (pinned in package.json)
// into fixtures/github/events/, verbatim (pretty-printed, nothing added or "fixed"), plus a
// short README.md saying where they come from.
//
// Each fixture is the FIRST example of its event in the package's api.github.com/index.json
// that satisfies `pick` below, so a re-run with the same package version gives the same files.
// If no example satisfies `pick` but `fallback` is set, the first example satisfying `fallback`
// is used and a note is printed (as of 7.6.1: no issue_comment example is on a pull request).
//
// Regenerate: npm ci --prefix tests/github && node tests/github/extract-events.mjs

import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, "..", "..", "fixtures", "github", "events");

const require = createRequire(import.meta.url);
const pkg = require("@octokit/webhooks-examples/package.json");
const definitions = require("@octokit/webhooks-examples");

const FIXTURES = [
  { file: "pull_request.opened.json", event: "pull_request", pick: (e) => e.action === "opened" },
  {
    file: "pull_request.synchronize.json",
    event: "pull_request",
    pick: (e) => e.action === "synchronize",
    optional: true,
  },
  {
    file: "pull_request_review.submitted.json",
    event: "pull_request_review",
    pick: (e) => e.action === "submitted",
  },
  {
    file: "issue_comment.created.json",
    event: "issue_comment",
    pick: (e) => e.action === "created" && e.issue?.pull_request != null,
    fallback: (e) => e.action === "created",
    fallbackNote: "no issue_comment `created` example is on a pull request (issue.pull_request absent)",
  },
  { file: "workflow_dispatch.json", event: "workflow_dispatch", pick: () => true },
  {
    // A branch push with commits is what a CI gate sees; tag pushes come first in the package.
    file: "push.json",
    event: "push",
    pick: (e) => e.ref?.startsWith("refs/heads/") && !e.deleted && e.commits?.length > 0,
    fallback: () => true,
    fallbackNote: "no branch push with commits; took the first push example",
  },
];

mkdirSync(outDir, { recursive: true });
const notes = [];
const written = [];
for (const fx of FIXTURES) {
  const def = definitions.find((d) => d.name === fx.event);
  const examples = def?.examples ?? [];
  let index = examples.findIndex(fx.pick);
  if (index < 0 && fx.fallback) {
    index = examples.findIndex(fx.fallback);
    if (index >= 0) notes.push(`${fx.file}: ${fx.fallbackNote}`);
  }
  if (index < 0) {
    if (fx.optional) {
      notes.push(`${fx.file}: no such example in @octokit/webhooks-examples ${pkg.version}, skipped`);
      continue;
    }
    throw new Error(`no ${fx.event} example for ${fx.file} in @octokit/webhooks-examples ${pkg.version}`);
  }
  writeFileSync(join(outDir, fx.file), JSON.stringify(examples[index], null, 2) + "\n");
  written.push(`${fx.file} (${fx.event} example #${index})`);
}

const readme = [
  "# GitHub webhook payload fixtures",
  "",
  `Real payloads copied verbatim (pretty-printed) from the npm package \`@octokit/webhooks-examples\` ${pkg.version} (its \`api.github.com/index.json\`) by \`tests/github/extract-events.mjs\`, which documents which example each file is.`,
  "Do not edit them by hand; regenerate with `npm ci --prefix tests/github && node tests/github/extract-events.mjs`.",
  ...(notes.length ? [`Note: ${notes.join("; ")}.`] : []),
  "",
].join("\n");
writeFileSync(join(outDir, "README.md"), readme);

for (const w of written) console.log(`wrote ${relative(process.cwd(), join(outDir, w))}`);
for (const n of notes) console.log(`note: ${n}`);
