// What the browser client reads of each server frame, found by the TypeScript type checker.
//
//   node tests/contracts/web_reads.mjs web/tsconfig.json  >  reads.json
//
// The browser client types every frame with `protocol.d.ts` (generated from the
// protocol's JSON Schema). Every property access, element access and
// destructuring in the client's own sources whose property is declared inside a
// server frame type (a member of the `ServerMessage` union) is a read of that
// frame: `m.data.thread.title` in app.ts reads `$.data.thread.title` of the
// frames `m` can be there. A read of a shared type (`thread.title` of a
// `ThreadInfo`) counts for a frame only when the client also reads the way to
// it (`$.data.thread`) of that frame. The kinds of a read are the JSON kinds of
// its declared TypeScript type; a single literal (`type: "pong"`,
// `connection_ready: true`) is an exact value.
//
// Output: {"messages": {<frame type>: {<path>: {"kinds": [...], "equals"?: v,
// "files": [...]}}}}, keys sorted, on stdout.
import path from "node:path";
import ts from "typescript";

const MAX_DEPTH = 8;

function fail(message) {
  process.stderr.write(`web_reads: ${message}\n`);
  process.exit(2);
}

const configPath = path.resolve(process.argv[2] ?? fail("usage: web_reads.mjs <tsconfig.json>"));
const config = ts.readConfigFile(configPath, ts.sys.readFile);
if (config.error) fail(ts.flattenDiagnosticMessageText(config.error.messageText, "\n"));
const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, path.dirname(configPath));
const program = ts.createProgram(parsed.fileNames, { ...parsed.options, noEmit: true });
const checker = program.getTypeChecker();

const protocolFile = program
  .getSourceFiles()
  .find((file) => path.basename(file.fileName) === "protocol.d.ts");
if (protocolFile === undefined) fail("no protocol.d.ts among the sources");

// --- where each declaration of protocol.d.ts sits in which server frame ------------

/** Declaration node → list of [frame type, path]. */
const locations = new Map();
/** Frame type → path → declared type. */
const declaredTypes = new Map();

function nonNull(type) {
  return type.isUnion() ? type.types.filter((t) => !(t.flags & ts.TypeFlags.Null)) : [type];
}

function visit(frame, type, prefix, depth) {
  if (depth > MAX_DEPTH) return;
  for (const part of nonNull(type)) {
    if (checker.isArrayType(part)) {
      const [element] = checker.getTypeArguments(part);
      if (element !== undefined) visit(frame, element, `${prefix}[*]`, depth + 1);
      continue;
    }
    if (!(part.flags & ts.TypeFlags.Object)) continue;
    for (const property of checker.getPropertiesOfType(part)) {
      const at = `${prefix}.${property.name}`;
      for (const declaration of property.declarations ?? []) {
        if (!locations.has(declaration)) locations.set(declaration, []);
        locations.get(declaration).push([frame, at]);
      }
      const propertyType = checker.getTypeOfSymbol(property);
      declaredTypes.get(frame).set(at, propertyType);
      visit(frame, propertyType, at, depth + 1);
    }
  }
}

const moduleSymbol = checker.getSymbolAtLocation(protocolFile);
const serverUnion = checker
  .getExportsOfModule(moduleSymbol)
  .find((symbol) => symbol.name === "ServerMessage");
if (serverUnion === undefined) fail("protocol.d.ts exports no ServerMessage");
const unionType = checker.getDeclaredTypeOfSymbol(serverUnion);
for (const member of unionType.isUnion() ? unionType.types : [unionType]) {
  const tag = checker.getTypeOfSymbol(checker.getPropertyOfType(member, "type"));
  if (!tag.isStringLiteral()) fail(`a ServerMessage member without a literal type: ${checker.typeToString(member)}`);
  declaredTypes.set(tag.value, new Map());
  visit(tag.value, member, "$", 0);
}

// --- reads in the client's own sources ---------------------------------------------------

/** Frame type → path → set of file names. */
const reads = new Map();

function record(symbol, file) {
  if (symbol === undefined) return;
  for (const declaration of symbol.declarations ?? []) {
    for (const [frame, at] of locations.get(declaration) ?? []) {
      if (!reads.has(frame)) reads.set(frame, new Map());
      const files = reads.get(frame).get(at) ?? new Set();
      files.add(path.basename(file.fileName));
      reads.get(frame).set(at, files);
    }
  }
}

function walk(node, file) {
  if (ts.isPropertyAccessExpression(node)) {
    record(checker.getSymbolAtLocation(node.name), file);
  } else if (ts.isElementAccessExpression(node) && ts.isStringLiteralLike(node.argumentExpression)) {
    const owner = checker.getTypeAtLocation(node.expression);
    record(checker.getPropertyOfType(owner, node.argumentExpression.text), file);
  } else if (ts.isBindingElement(node) && ts.isObjectBindingPattern(node.parent)) {
    const name = node.propertyName ?? node.name;
    if (ts.isIdentifier(name) || ts.isStringLiteralLike(name)) {
      const owner = checker.getTypeAtLocation(node.parent);
      record(checker.getPropertyOfType(owner, name.text), file);
    }
  }
  ts.forEachChild(node, (child) => walk(child, file));
}

for (const file of program.getSourceFiles()) {
  if (file.isDeclarationFile || program.isSourceFileFromExternalLibrary(file)) continue;
  walk(file, file);
}

// --- kinds of each read, and the reads reachable from the frame ---------------------

function kindsOf(type) {
  const kinds = new Set();
  let literal;
  const parts = type.isUnion() ? type.types : [type];
  for (const part of parts) {
    const flags = part.flags;
    if (flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return { kinds: [] };
    if (flags & ts.TypeFlags.Null) kinds.add("null");
    else if (flags & ts.TypeFlags.StringLike) kinds.add("string");
    else if (flags & ts.TypeFlags.NumberLike) kinds.add("number");
    else if (flags & ts.TypeFlags.BooleanLike) kinds.add("boolean");
    else if (checker.isArrayType(part)) kinds.add("array");
    else if (flags & ts.TypeFlags.Object) kinds.add("object");
    else fail(`cannot map ${checker.typeToString(part)} to a JSON kind`);
  }
  if (parts.length === 1 && parts[0].isLiteral()) literal = parts[0].value;
  else if (parts.length === 1 && parts[0].flags & ts.TypeFlags.BooleanLiteral) {
    literal = checker.typeToString(parts[0]) === "true";
  }
  const result = { kinds: [...kinds].sort() };
  if (literal !== undefined) result.equals = literal;
  return result;
}

function parentOf(at) {
  const cut = Math.max(at.lastIndexOf("."), at.lastIndexOf("[*]"));
  let parent = at.slice(0, cut);
  while (parent.endsWith("[*]")) parent = parent.slice(0, -3);
  return parent;
}

const messages = {};
for (const frame of [...reads.keys()].sort()) {
  const paths = reads.get(frame);
  const reachable = (at) => {
    const parent = parentOf(at);
    return parent === "$" || (paths.has(parent) && reachable(parent));
  };
  const out = {};
  for (const at of [...paths.keys()].sort()) {
    if (!reachable(at)) continue;
    out[at] = { ...kindsOf(declaredTypes.get(frame).get(at)), files: [...paths.get(at)].sort() };
  }
  if (Object.keys(out).length > 0) messages[frame] = out;
}
process.stdout.write(JSON.stringify({ messages }, null, 2) + "\n");
