// Validates CloudNativePG, Barman Cloud plugin and Prometheus Operator
// objects against schemas published by others, in two ways:
//
//  - the JSON schemas (compiled validators) that @kubernetes-models ships
//    for each kind: types, required fields, enums, patterns;
//  - the TypeScript interfaces generated from the same API types, compiled
//    with `tsc --strict`: an object literal with a field the interface does
//    not declare is an error, which catches a misspelt or invented field
//    name anywhere in the object (the JSON schemas allow unknown fields).
//
// Usage: node validate.mjs TOOLS_DIR < objects.json
//   TOOLS_DIR: where scripts/test.sh installed scripts/schema/package.json
//   objects.json: a JSON array of objects
// Prints `ok KIND/NAME` or `error KIND/NAME: ...` per object; exits 1 when
// any object fails, 2 on a kind it has no schema for.

import { readFileSync, writeFileSync, rmSync, mkdtempSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const tools = process.argv[2];
if (!tools) {
  console.error("usage: node validate.mjs TOOLS_DIR < objects.json");
  process.exit(2);
}
const modules = join(tools, "node_modules");
const objects = JSON.parse(readFileSync(0, "utf8"));

const CNPG = "@kubernetes-models/cloudnative-pg";
const BARMAN_CONFIGURATION = `${CNPG}/github.com/cloudnative-pg/barman-cloud/pkg/api/BarmanObjectStoreConfiguration`;

// The model (module, class, interface) of each kind.
function modelOf(object) {
  const kind = object.kind;
  switch (object.apiVersion) {
    case "postgresql.cnpg.io/v1":
      return { module: `${CNPG}/postgresql.cnpg.io/v1/${kind}`, name: kind };
    case "monitoring.coreos.com/v1":
      return {
        module: `@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/${kind}`,
        name: kind,
      };
    case "barmancloud.cnpg.io/v1":
      // The package has the plugin's configuration type, not its small
      // envelope; that is checked below as the plugin's api/v1 defines it.
      if (kind === "ObjectStore") {
        return { module: BARMAN_CONFIGURATION, name: "BarmanObjectStoreConfiguration", objectStore: true };
      }
  }
  return null;
}

const label = (o) => `${o.kind}/${o.metadata?.name}`;
const results = objects.map((object) => ({ object, errors: [] }));

// 1. The JSON schemas.
for (const result of results) {
  const model = modelOf(result.object);
  if (!model) {
    console.log(`error ${label(result.object)}: no schema for ${result.object.apiVersion} ${result.object.kind}`);
    process.exit(2);
  }
  result.model = model;
  const exports = await import(pathToFileURL(join(modules, `${model.module}.js`)).href);
  const Model = exports[model.name];
  let data = result.object;
  if (model.objectStore) {
    const spec = data.spec ?? {};
    for (const key of Object.keys(spec)) {
      if (!["configuration", "retentionPolicy", "instanceSidecarConfiguration"].includes(key)) {
        result.errors.push(`spec.${key} is not a field of ObjectStoreSpec`);
      }
    }
    if (spec.retentionPolicy !== undefined && !/^[1-9][0-9]*[dwm]$/.test(spec.retentionPolicy)) {
      result.errors.push(`spec.retentionPolicy ${JSON.stringify(spec.retentionPolicy)} does not match ^[1-9][0-9]*[dwm]$`);
    }
    if (spec.configuration?.serverName !== undefined) {
      result.errors.push("spec.configuration.serverName is forbidden: use the plugin parameter");
    }
    data = spec.configuration;
  }
  try {
    new Model(data).validate();
  } catch (error) {
    result.errors.push(error.message.replace(/\s+/g, " "));
  }
}

// 2. The TypeScript interfaces, all objects in one program.
const ts = (await import(pathToFileURL(join(modules, "typescript/lib/typescript.js")).href)).default;
const scratch = mkdtempSync(join(tools, "check-"));
const source = join(scratch, "objects.mts");
let text = "";
results.forEach((result, index) => {
  const { module, name } = result.model;
  text += `import type { I${name} as T${index} } from "${module}";\n`;
});
const lineOf = [];
results.forEach((result, index) => {
  const value = result.model.objectStore ? result.object.spec.configuration : result.object;
  lineOf.push(text.split("\n").length);
  text += `export const o${index}: T${index} = ${JSON.stringify(value, null, 1)};\n`;
});
writeFileSync(source, text);
try {
  const program = ts.createProgram([source], {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
  });
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, " ");
    if (!diagnostic.file || diagnostic.file.fileName !== source) {
      console.log(`error: ${message}`);
      process.exit(2);
    }
    const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
    // The object whose literal holds the line (1-based line numbers).
    let index = 0;
    while (index + 1 < lineOf.length && lineOf[index + 1] <= line + 1) index++;
    if (line + 1 < lineOf[0]) {
      console.log(`error: ${message}`);
      process.exit(2);
    }
    results[index].errors.push(message);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

let failed = false;
for (const result of results) {
  if (result.errors.length === 0) {
    console.log(`ok ${label(result.object)}`);
  } else {
    failed = true;
    console.log(`error ${label(result.object)}: ${result.errors.join("; ")}`);
  }
}
process.exit(failed ? 1 : 0);
