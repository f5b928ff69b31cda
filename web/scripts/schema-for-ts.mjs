// Read the protocol's JSON Schema on stdin, write it for json2ts on stdout.
//
// Two keywords only add noise to the TypeScript, so they are dropped below the
// top-level definitions (whose titles name the frame types, e.g. PongFrame):
// - `title`: json2ts names a type alias after every titled property
//   (RunId, RunId1, RunId2, ...) instead of writing `run_id: string`;
// - `default`: json2ts reads an untyped `{"default": null}` (a tool's `result`)
//   as an object. Defaults never change a type: `required` decides optional keys.
// And a schema of annotations alone (`{"description": ...}`: any JSON value, such
// as a question's `answer`) gets `tsType: unknown`, which json2ts would otherwise
// also read as an object.
import { readFileSync } from "node:fs";

const SCHEMA_MAPS = ["properties", "patternProperties", "$defs", "dependentSchemas"];
const SCHEMA_LISTS = ["allOf", "anyOf", "oneOf", "prefixItems"];
const ANNOTATIONS = new Set(["description", "title", "examples", "deprecated", "$comment"]);
const SCHEMA_VALUES = [
  "items", "additionalProperties", "unevaluatedProperties", "propertyNames",
  "contains", "not", "if", "then", "else",
];

function clean(schema, isDefinition) {
  if (typeof schema !== "object" || schema === null) return schema;
  const out = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === "default" || (key === "title" && !isDefinition)) continue;
    if (SCHEMA_MAPS.includes(key)) {
      out[key] = Object.fromEntries(
        Object.entries(value).map(([name, sub]) => [name, clean(sub, key === "$defs")]),
      );
    } else if (SCHEMA_LISTS.includes(key)) {
      out[key] = value.map((sub) => clean(sub, false));
    } else if (SCHEMA_VALUES.includes(key)) {
      out[key] = clean(value, false);
    } else {
      out[key] = value;
    }
  }
  const keys = Object.keys(out);
  if (!isDefinition && keys.length > 0 && keys.every((key) => ANNOTATIONS.has(key))) {
    out.tsType = "unknown";
  }
  return out;
}

const schema = JSON.parse(readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify(clean(schema, true), null, 2) + "\n");
