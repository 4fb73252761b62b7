// Validates cert-manager objects against cert-manager's CRD schemas, as the
// npm package @kubernetes-models/cert-manager compiles them.
//
//   node validate.mjs < documents.json
//
// Input: a JSON array of objects. Prints one line per object, "PASS Kind
// name" or "FAIL Kind name: reasons", and exits 1 when any fails or when an
// object is of a kind this script has no schema for.
import { readFileSync } from "node:fs";
import { Certificate, Issuer, ClusterIssuer } from "@kubernetes-models/cert-manager/cert-manager.io/v1";

const models = { Certificate, Issuer, ClusterIssuer };
const objects = JSON.parse(readFileSync(0, "utf8"));
let failed = false;
for (const object of objects) {
  const label = `${object.kind} ${object.metadata?.name}`;
  const Model = object.apiVersion === "cert-manager.io/v1" ? models[object.kind] : undefined;
  if (!Model) {
    console.log(`FAIL ${label}: no schema for ${object.apiVersion} ${object.kind}`);
    failed = true;
    continue;
  }
  try {
    new Model(object).validate();
    console.log(`PASS ${label}`);
  } catch (error) {
    console.log(`FAIL ${label}: ${String(error.message).replace(/\s+/g, " ")}`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
