// Trims GitHub's official REST API description down to the operations promptgate calls,
// for the Prism mock server used by the GitHub contract tests.
//
// Source: @octokit/openapi 23.0.2 (pinned in package.json), file
// generated/api.github.com.json (the api.github.com description with `$ref`s kept, so the
// referenced components can be copied once each instead of inlined everywhere).
//
// Output: fixtures/github/openapi.json (relative to the repository root), containing only the
// operations in OPERATIONS below plus every `#/components/...` entry they reference
// transitively. Every response `application/json` content is duplicated under
// `application/vnd.github+json` (the Accept header GitHub documents), otherwise Prism answers
// 406 to clients that send it. Output is deterministic: paths in OPERATIONS order, methods
// and component names sorted, everything else in the source's order (which also decides the
// example Prism serves).
//
// One deliberate change to GitHub's data, see EXAMPLE_FIXES: examples that do not validate
// against their own schema are completed, because `prism mock --errors` answers 500 to a
// request whose (example) response violates the schema.
//
// Regenerate: npm ci --prefix tests/github && node tests/github/trim-openapi.mjs

import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, "..", "..");
const outFile = join(repoRoot, "fixtures", "github", "openapi.json");

const OPERATIONS = [
  ["get", "/user"],
  ["get", "/repos/{owner}/{repo}/pulls/{pull_number}"],
  ["get", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews"],
  ["get", "/repos/{owner}/{repo}/issues/{issue_number}/comments"],
  ["post", "/repos/{owner}/{repo}/issues/{issue_number}/comments"],
  ["patch", "/repos/{owner}/{repo}/issues/comments/{comment_id}"],
  ["delete", "/repos/{owner}/{repo}/issues/comments/{comment_id}"],
  ["post", "/repos/{owner}/{repo}/statuses/{sha}"],
  ["get", "/orgs/{org}/teams/{team_slug}/memberships/{username}"],
];

// Examples in the source that violate their own schema (found by running `prism mock --errors`
// against the trimmed file). Each fix only adds what the schema requires; a fix whose target
// has disappeared, or is already valid, is reported and skipped so an upgrade stays easy.
const EXAMPLE_FIXES = [
  {
    example: "pull-request",
    why: "requested_teams[] items lack `type`, required by #/components/schemas/team-simple",
    apply(value) {
      let changed = 0;
      for (const team of value?.requested_teams ?? []) {
        if (team && !("type" in team)) {
          team.type = "organization";
          changed++;
        }
      }
      return changed;
    },
  },
];

const HTTP_METHODS = new Set(["get", "put", "post", "delete", "options", "head", "patch", "trace"]);
const GITHUB_MEDIA_TYPE = "application/vnd.github+json";

const require = createRequire(import.meta.url);
const pkg = require("@octokit/openapi/package.json");
const srcPath = require.resolve("@octokit/openapi/generated/api.github.com.json");
const src = JSON.parse(readFileSync(srcPath, "utf8"));

// ---- pick the operations ----------------------------------------------------------------
const paths = {};
for (const [method, path] of OPERATIONS) {
  const item = src.paths[path];
  if (!item || !item[method]) {
    throw new Error(`${method.toUpperCase()} ${path} is not in @octokit/openapi ${pkg.version}`);
  }
  if (!paths[path]) {
    paths[path] = {};
    // Path-level fields (shared parameters, summary, ...) come along.
    for (const [key, value] of Object.entries(item)) {
      if (!HTTP_METHODS.has(key)) paths[path][key] = value;
    }
  }
  paths[path][method] = item[method];
}
for (const path of Object.keys(paths)) {
  const item = paths[path];
  const methods = Object.keys(item).filter((k) => HTTP_METHODS.has(k)).sort();
  const others = Object.keys(item).filter((k) => !HTTP_METHODS.has(k));
  paths[path] = Object.fromEntries([...others, ...methods].map((k) => [k, item[k]]));
}

// ---- collect the components they reference, transitively ---------------------------------
const wanted = new Map(); // "section/name" -> [section, name]
const queue = [];

function collectRefs(node) {
  if (Array.isArray(node)) {
    node.forEach(collectRefs);
  } else if (node && typeof node === "object") {
    for (const [key, value] of Object.entries(node)) {
      if (key === "$ref" && typeof value === "string") {
        const m = /^#\/components\/([^/]+)\/(.+)$/.exec(value);
        if (!m) throw new Error(`unsupported $ref ${value}`);
        const [, section, rawName] = m;
        const name = rawName.replace(/~1/g, "/").replace(/~0/g, "~");
        const id = `${section}/${name}`;
        if (!wanted.has(id)) {
          if (!src.components?.[section]?.[name]) throw new Error(`dangling $ref ${value}`);
          wanted.set(id, [section, name]);
          queue.push(src.components[section][name]);
        }
      } else {
        collectRefs(value);
      }
    }
  }
}

collectRefs(paths);
while (queue.length) collectRefs(queue.shift());

const components = {};
for (const section of [...new Set([...wanted.values()].map(([s]) => s))].sort()) {
  const names = [...wanted.values()].filter(([s]) => s === section).map(([, n]) => n).sort();
  components[section] = Object.fromEntries(names.map((n) => [n, src.components[section][n]]));
}

// ---- add application/vnd.github+json next to every response application/json -------------
function withGithubMediaType(response) {
  if (!response || response.$ref || !response.content) return response;
  const content = {};
  for (const [type, media] of Object.entries(response.content)) {
    content[type] = media;
    if (type === "application/json" && !(GITHUB_MEDIA_TYPE in response.content)) {
      content[GITHUB_MEDIA_TYPE] = media;
    }
  }
  return { ...response, content };
}

const clone = (v) => JSON.parse(JSON.stringify(v));
const outPaths = clone(paths);
for (const item of Object.values(outPaths)) {
  for (const [method, op] of Object.entries(item)) {
    if (!HTTP_METHODS.has(method) || !op.responses) continue;
    for (const code of Object.keys(op.responses)) {
      op.responses[code] = withGithubMediaType(op.responses[code]);
    }
  }
}
const outComponents = clone(components);
for (const name of Object.keys(outComponents.responses ?? {})) {
  outComponents.responses[name] = withGithubMediaType(outComponents.responses[name]);
}

const appliedFixes = [];
for (const fix of EXAMPLE_FIXES) {
  const example = outComponents.examples?.[fix.example];
  const changed = example ? fix.apply(example.value) : 0;
  if (changed) appliedFixes.push(`examples/${fix.example}: ${fix.why}`);
  else console.warn(`note: fix for examples/${fix.example} not needed any more (${fix.why})`);
}

// ---- tags actually used --------------------------------------------------------------------
const usedTags = new Set();
for (const item of Object.values(outPaths)) {
  for (const [method, op] of Object.entries(item)) {
    if (HTTP_METHODS.has(method)) (op.tags ?? []).forEach((t) => usedTags.add(t));
  }
}

const out = {
  openapi: src.openapi,
  info: {
    ...src.info,
    title: "GitHub REST API (subset used by promptgate)",
    description:
      `Trimmed by tests/github/trim-openapi.mjs from @octokit/openapi ${pkg.version} ` +
      `(generated/api.github.com.json, info.version ${src.info.version}): only the operations ` +
      `promptgate calls and the components they reference; every response application/json ` +
      `is also declared as ${GITHUB_MEDIA_TYPE} so Prism accepts GitHub's Accept header. ` +
      (appliedFixes.length
        ? `Examples completed to match their schema: ${appliedFixes.join("; ")}. `
        : "") +
      `Do not edit by hand; regenerate with ` +
      "`npm ci --prefix tests/github && node tests/github/trim-openapi.mjs`.",
  },
  tags: (src.tags ?? []).filter((t) => usedTags.has(t.name)),
  servers: [{ url: "http://127.0.0.1:4010", description: "local Prism mock" }],
  externalDocs: src.externalDocs,
  paths: outPaths,
  components: outComponents,
};

mkdirSync(dirname(outFile), { recursive: true });
const text = JSON.stringify(out, null, 2) + "\n";
writeFileSync(outFile, text);
const counts = Object.entries(outComponents)
  .map(([s, v]) => `${Object.keys(v).length} ${s}`)
  .join(", ");
console.log(
  `wrote ${relative(process.cwd(), outFile)} (${Buffer.byteLength(text)} bytes): ` +
    `${OPERATIONS.length} operations, ${counts}; from @octokit/openapi ${pkg.version}`,
);
