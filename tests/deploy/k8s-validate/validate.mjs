// SPDX-License-Identifier: Apache-2.0
// Schema check of Kubernetes manifests, offline, against the API schema as published in the
// kubernetes-models packages (generated from Kubernetes' OpenAPI document; the Prometheus
// operator's CRDs for ServiceMonitor). Two passes, because neither is complete alone:
//  1. the packages' JSON-schema validators (Ajv): required fields, types, enums, formats;
//  2. the TypeScript compiler on the same documents typed as the API's interfaces: fields the
//     schema does not know (a misspelled key passes pass 1, which allows extra properties);
//  3. rules the API server enforces beyond the schema, for pod templates (propagation,
//     volume references, container names).
// Every error is printed as FILE:LINE: KIND/NAME: [PATH: ]message; exit 1 if any.
//
//   node validate.mjs FILE.yaml...       (run from a folder whose node_modules has the packages)
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createRequire } from "node:module";
import { parseAllDocuments, LineCounter, isMap, isSeq, isScalar } from "yaml";

const here = resolve(".");
const require = createRequire(join(here, "package.json"));

// apiVersion group -> package holding its models.
const packages = {
  "": "kubernetes-models",
  "apps": "kubernetes-models",
  "monitoring.coreos.com": "@kubernetes-models/prometheus-operator",
};

function modelPath(apiVersion, kind) {
  const slash = apiVersion.indexOf("/");
  const group = slash < 0 ? "" : apiVersion.slice(0, slash);
  const pkg = packages[group];
  if (!pkg) return null;
  return `${pkg}/${apiVersion}/${kind}`;
}

const errors = [];
const reportedLines = new Set(); // FILE:LINE already reported by pass 1 or 3
const report = (file, line, doc, path, msg) => {
  reportedLines.add(`${file}:${line}`);
  errors.push(`${file}:${line}: ${doc}: ${path ? path + ": " : ""}${msg}`);
};

// The YAML line of the node at a JSON pointer path (pass 1 reports such paths).
function lineOf(doc, counter, pointer) {
  const keys = pointer.split("/").slice(1).map((k) => (/^\d+$/.test(k) ? Number(k) : k));
  for (let n = keys.length; n >= 0; n--) {
    const node = doc.getIn(keys.slice(0, n), true);
    if (node && node.range) return counter.linePos(node.range[0]).line;
  }
  return 1;
}

// Emits a YAML node as a TypeScript literal, one value per line, recording for each output
// line the YAML line it came from (pass 2 maps the compiler's positions back through it).
function emit(node, counter, out, lines, yamlLine) {
  const push = (text, line) => { out.push(text); lines.push(line); };
  if (isMap(node)) {
    push("{", yamlLine);
    for (const pair of node.items) {
      const keyLine = counter.linePos(pair.key.range[0]).line;
      out.push(`${JSON.stringify(String(pair.key.value))}:`);
      lines.push(keyLine);
      emit(pair.value, counter, out, lines, keyLine);
      push(",", keyLine);
    }
    push("}", yamlLine);
  } else if (isSeq(node)) {
    push("[", yamlLine);
    for (const item of node.items) {
      const itemLine = item && item.range ? counter.linePos(item.range[0]).line : yamlLine;
      emit(item, counter, out, lines, itemLine);
      push(",", itemLine);
    }
    push("]", yamlLine);
  } else {
    const line = node && node.range ? counter.linePos(node.range[0]).line : yamlLine;
    push(JSON.stringify(isScalar(node) ? node.toJSON() : null), line);
  }
}

// Pass 3: what the API server refuses in a pod spec although the schema allows it.
function podTemplateRules(obj, fail) {
  const spec = obj.kind === "Pod" ? obj.spec : obj.spec?.template?.spec;
  if (!spec) return;
  const base = obj.kind === "Pod" ? "/spec" : "/spec/template/spec";
  const volumes = new Set((spec.volumes ?? []).map((v) => v.name));
  const names = new Set();
  for (const list of ["initContainers", "containers"]) {
    (spec[list] ?? []).forEach((c, i) => {
      const at = `${base}/${list}/${i}`;
      if (names.has(c.name)) fail(`${at}/name`, `container name ${c.name} is used twice`);
      names.add(c.name);
      (c.volumeMounts ?? []).forEach((m, j) => {
        if (!volumes.has(m.name))
          fail(`${at}/volumeMounts/${j}/name`, `no volume named ${m.name} in the pod`);
        if (m.mountPropagation === "Bidirectional" && c.securityContext?.privileged !== true)
          fail(`${at}/volumeMounts/${j}/mountPropagation`,
            "Bidirectional mount propagation is available only to privileged containers");
      });
    });
  }
}

const checks = []; // {file, name, module, iface, text, lines}
for (const arg of process.argv.slice(2)) {
  const text = readFileSync(arg, "utf8");
  const counter = new LineCounter();
  for (const doc of parseAllDocuments(text, { lineCounter: counter })) {
    if (!doc.contents) continue;
    const where = doc.contents.range ? counter.linePos(doc.contents.range[0]).line : 1;
    if (doc.errors.length) {
      for (const e of doc.errors) report(arg, e.linePos?.[0]?.line ?? where, "yaml", "", e.message);
      continue;
    }
    const obj = doc.toJSON();
    const kind = obj?.kind, apiVersion = obj?.apiVersion;
    const name = `${kind ?? "?"}/${obj?.metadata?.name ?? "?"}`;
    if (typeof kind !== "string" || typeof apiVersion !== "string") {
      report(arg, where, name, "", "no apiVersion and kind");
      continue;
    }
    const module = modelPath(apiVersion, kind);
    let Model;
    try {
      Model = module && (await import(module))[kind];
    } catch {
      Model = null;
    }
    if (!Model) {
      report(arg, where, name, "", `${apiVersion} ${kind}: no schema known for this kind`);
      continue;
    }
    // Pass 1: the JSON-schema validator.
    try {
      new Model(obj).validate();
    } catch (e) {
      for (const err of e.errors ?? [{ instancePath: "", message: e.message }]) {
        const path = err.instancePath || "";
        const extra = err.params?.allowedValues ? ` (${err.params.allowedValues.join(", ")})` : "";
        report(arg, lineOf(doc, counter, path), name, path, `${err.message}${extra}`);
      }
    }
    podTemplateRules(obj, (path, msg) => report(arg, lineOf(doc, counter, path), name, path, msg));
    const out = [], lines = [];
    emit(doc.contents, counter, out, lines, where);
    checks.push({ file: arg, name, module, iface: `I${kind}`, out, lines });
  }
}

// Pass 2: one TypeScript file, each document assigned to a constant of its kind's interface.
const ts = require("typescript");
const dir = mkdtempSync(join(tmpdir(), "iofence-k8s-validate-"));
try {
  const src = [], map = []; // map[tsLine] = {check, yamlLine}
  checks.forEach((c, i) => {
    src.push(`import type { ${c.iface} as T${i} } from ${JSON.stringify(c.module)};`);
    map.push(null);
  });
  checks.forEach((c, i) => {
    src.push(`export const doc${i}: T${i} =`);
    map.push({ check: c, yamlLine: c.lines[0] });
    c.out.forEach((text, j) => { src.push(text); map.push({ check: c, yamlLine: c.lines[j] }); });
    src.push(";");
    map.push({ check: c, yamlLine: c.lines[c.lines.length - 1] });
  });
  const file = join(dir, "manifests.ts");
  writeFileSync(file, src.join("\n") + "\n");
  const program = ts.createProgram([file], {
    noEmit: true, strict: true, skipLibCheck: true, types: [],
    module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022, baseUrl: here, typeRoots: [],
    paths: { "*": [join(here, "node_modules", "*")] },
  });
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const msg = ts.flattenDiagnosticMessageText(d.messageText, " ");
    if (!d.file || d.file.fileName !== file) {
      report("(schema packages)", 0, "-", "", msg);
      continue;
    }
    const { line } = d.file.getLineAndCharacterOfPosition(d.start ?? 0);
    const at = map[line];
    if (!at) report(file, line + 1, "-", "", msg);
    else if (!reportedLines.has(`${at.check.file}:${at.yamlLine}`))
      errors.push(`${at.check.file}:${at.yamlLine}: ${at.check.name}: ${msg}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

for (const e of errors) console.error(e);
if (errors.length) process.exit(1);
console.log(`${checks.length} document(s) valid: ${checks.map((c) => c.name).join(", ")}`);
