/**
 * Form fields generated from a JSON Schema, for a person to answer an agent's
 * question (`agent_question.answer_schema`).
 *
 * An object's properties become one labelled field each: a text box for a
 * string, a number box for an integer or a number, a checkbox for a boolean,
 * a select for an `enum`, and a JSON text area for anything else. Any other
 * schema is one such field for the whole answer. The schema's own words
 * label them (`title`, else the property name; `description` as a hint), and
 * `required`, `minimum`/`maximum`, `minLength`/`maxLength` and `pattern`
 * become the inputs' attributes. They are hints only: the server checks the
 * answer against the schema, and its `validation_failed` errors are shown
 * beside the fields they name (`showErrors`).
 */
import { h } from "./dom.js";

type Schema = Record<string, unknown>;

/** What a field holds: a value, nothing (left empty), or why it cannot be read. */
export type Reading = { value: unknown } | { empty: true } | { problem: string };

type Control = HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;

interface Field {
  /** The property, or `null` when the field is the whole answer. */
  name: string | null;
  row: HTMLElement;
  control: Control;
  error: HTMLElement;
  read(): Reading;
}

/** One refused field: the error's `path` (e.g. `data.answer.rating`) and why. */
export interface FieldProblem {
  path: string;
  reason: string;
}

const REQUIRED = /^'(.+)' is a required property$/;

export class SchemaForm {
  /** The fields, in a `div` to put in a form. */
  readonly element: HTMLElement;
  private readonly fields: Field[] = [];
  private readonly isObject: boolean;

  /**
   * @param idBase unique prefix of the fields' element ids.
   * @param schema the answer's JSON Schema.
   */
  constructor(idBase: string, schema: Schema) {
    const properties = schema["properties"];
    this.isObject = schemaType(schema) === "object" && isSchema(properties);
    if (this.isObject && isSchema(properties)) {
      const required = new Set(stringsOf(schema["required"]));
      let index = 0;
      for (const [name, property] of Object.entries(properties)) {
        const sub = isSchema(property) ? property : {};
        this.fields.push(field(`${idBase}-${index++}`, name, sub, required.has(name)));
      }
    } else {
      this.fields.push(field(`${idBase}-0`, null, schema, true));
    }
    this.element = h("div", { class: "schema-fields" }, ...this.fields.map((f) => f.row));
  }

  /** The answer the fields hold, or `null` after marking the fields that cannot be read. */
  read(): { answer: unknown } | null {
    this.clearErrors();
    let ok = true;
    const answer: Record<string, unknown> = {};
    for (const f of this.fields) {
      const reading = f.read();
      if ("problem" in reading) {
        showError(f, reading.problem);
        ok = false;
      } else if (f.name === null) {
        return ok ? { answer: "value" in reading ? reading.value : null } : null;
      } else if ("value" in reading) {
        answer[f.name] = reading.value;
      }
    }
    return ok ? { answer } : null;
  }

  /**
   * Show the server's field errors beside their fields.
   *
   * @param root the name of the answer in the error paths (`answer`).
   * @returns the reasons no field matched, for the form as a whole.
   */
  showErrors(problems: readonly FieldProblem[], root: string): string[] {
    const unplaced: string[] = [];
    for (const { path, reason } of problems) {
      const target = this.fieldFor(path, reason, root);
      if (target === undefined) unplaced.push(reason);
      else showError(target, reason);
    }
    return unplaced;
  }

  clearErrors(): void {
    for (const f of this.fields) {
      f.error.hidden = true;
      f.error.textContent = "";
      f.control.removeAttribute("aria-invalid");
    }
  }

  /** Focus the first field marked invalid (else the first field); false if none. */
  focusInvalid(): boolean {
    const invalid = this.fields.find((f) => f.control.getAttribute("aria-invalid") === "true");
    if (invalid === undefined) return false;
    invalid.control.focus();
    return true;
  }


  set disabled(disabled: boolean) {
    for (const f of this.fields) f.control.disabled = disabled;
  }

  /** The field an error at `path` (under `root`) is about. */
  private fieldFor(path: string, reason: string, root: string): Field | undefined {
    const at = new RegExp(`(?:^|\\.)${root}(?:\\.(.+))?$`).exec(path);
    if (at === null) return undefined;
    if (!this.isObject) return this.fields[0];
    // Below the answer: its first step names the property. At the answer itself,
    // a missing required property names it in the reason.
    const name = at[1]?.split(".")[0] ?? REQUIRED.exec(reason)?.[1];
    return this.fields.find((f) => f.name === name);
  }
}

function showError(target: Field, reason: string): void {
  target.error.textContent = reason;
  target.error.hidden = false;
  target.control.setAttribute("aria-invalid", "true");
}

/** One labelled field for `schema`. */
function field(id: string, name: string | null, schema: Schema, required: boolean): Field {
  const type = schemaType(schema);
  const choices = Array.isArray(schema["enum"]) ? (schema["enum"] as unknown[]) : null;
  const title = typeof schema["title"] === "string" ? schema["title"] : (name ?? "Answer");
  const description = typeof schema["description"] === "string" ? schema["description"] : null;
  const error = h("span", { class: "field-error", attrs: { id: `${id}-error` } });
  error.hidden = true;
  const hint =
    description === null
      ? null
      : h("span", { class: "field-hint", text: description, attrs: { id: `${id}-hint` } });

  let control: Control;
  let read: () => Reading;
  if (choices !== null) {
    [control, read] = select(choices, required);
  } else if (type === "boolean") {
    [control, read] = checkbox();
  } else if (type === "integer" || type === "number") {
    [control, read] = numberInput(schema, type === "integer");
  } else if (type === "string") {
    [control, read] = textInput(schema);
  } else {
    [control, read] = jsonInput(schema);
  }
  control.id = id;
  // `required` on a checkbox would mean "must be ticked"; an unticked box is an answer (false).
  const marked = required && type !== "boolean";
  if (marked) control.required = true;
  control.setAttribute(
    "aria-describedby",
    [hint === null ? null : `${id}-hint`, `${id}-error`].filter((x) => x !== null).join(" "),
  );
  const label = h(
    "label",
    { attrs: { for: id } },
    title,
    marked
      ? h("span", { class: "required-mark", text: " *", attrs: { "aria-hidden": "true" } })
      : null,
  );
  const row =
    type === "boolean" && choices === null
      ? h("div", { class: `field field-boolean` }, control, label, hint, error)
      : h("div", { class: "field" }, label, control, hint, error);
  return { name, row, control, error, read };
}

function select(choices: unknown[], required: boolean): [HTMLSelectElement, () => Reading] {
  const control = h("select");
  // Nothing is chosen for the person: a required choice starts empty too.
  control.append(h("option", { text: required ? "Choose…" : "(none)", attrs: { value: "" } }));
  choices.forEach((choice, index) => {
    const text = typeof choice === "string" ? choice : JSON.stringify(choice);
    control.append(h("option", { text, attrs: { value: String(index) } }));
  });
  const read = (): Reading =>
    control.value === "" ? { empty: true } : { value: choices[Number(control.value)] };
  return [control, read];
}

function checkbox(): [HTMLInputElement, () => Reading] {
  const control = h("input", { attrs: { type: "checkbox" } });
  return [control, () => ({ value: control.checked })];
}

function numberInput(schema: Schema, integer: boolean): [HTMLInputElement, () => Reading] {
  const control = h("input", {
    attrs: {
      type: "number",
      step: integer ? "1" : "any",
      inputmode: integer ? "numeric" : "decimal",
    },
  });
  if (typeof schema["minimum"] === "number") control.min = String(schema["minimum"]);
  if (typeof schema["maximum"] === "number") control.max = String(schema["maximum"]);
  const read = (): Reading => {
    if (control.validity.badInput) return { problem: "Enter a number." };
    return control.value === "" ? { empty: true } : { value: Number(control.value) };
  };
  return [control, read];
}

function textInput(schema: Schema): [HTMLInputElement | HTMLTextAreaElement, () => Reading] {
  const maxLength = typeof schema["maxLength"] === "number" ? schema["maxLength"] : null;
  // Room for a sentence or two gets a text area.
  const long = maxLength === null || maxLength > 120;
  const control = long
    ? h("textarea", { attrs: { rows: "2" } })
    : h("input", { attrs: { type: "text" } });
  if (maxLength !== null) control.maxLength = maxLength;
  if (typeof schema["minLength"] === "number") control.minLength = schema["minLength"];
  if (control instanceof HTMLInputElement && typeof schema["pattern"] === "string") {
    control.pattern = schema["pattern"];
  }
  return [control, () => (control.value === "" ? { empty: true } : { value: control.value })];
}

function jsonInput(schema: Schema): [HTMLTextAreaElement, () => Reading] {
  const control = h("textarea", { class: "json", attrs: { rows: "3", spellcheck: "false" } });
  control.placeholder = schemaType(schema) === "array" ? "[…] (JSON)" : "JSON";
  const read = (): Reading => {
    if (control.value.trim() === "") return { empty: true };
    try {
      return { value: JSON.parse(control.value) as unknown };
    } catch {
      return { problem: "Not valid JSON." };
    }
  };
  return [control, read];
}

/** The schema's `type`; of a list, the first that is not `null`. */
function schemaType(schema: Schema): string | null {
  const type = schema["type"];
  if (typeof type === "string") return type;
  if (Array.isArray(type)) {
    const named = type.find((t) => typeof t === "string" && t !== "null");
    return typeof named === "string" ? named : null;
  }
  return null;
}

function isSchema(value: unknown): value is Schema {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function stringsOf(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}
