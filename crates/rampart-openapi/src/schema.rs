//! OpenAPI Schema Objects as JSON Schema 2020-12, ready for the `jsonschema` crate.
//!
//! OpenAPI 3.1 schemas are JSON Schema 2020-12 already; 3.0 schemas are a dialect of an
//! older draft, rewritten here: `nullable` becomes a `"null"` type, boolean
//! `exclusiveMinimum`/`exclusiveMaximum` become numbers, and a `$ref` drops its siblings.
//! Both versions then get what the gateway adds:
//!
//! - **direction**: in a request, `readOnly` properties are not required (the server sets
//!   them), and under `strict` they are refused: sending `id` or `role` to an endpoint
//!   that documents them as read-only is mass assignment. Responses treat `writeOnly` the
//!   same way, without refusing.
//! - **strict**: an object schema that declares `properties` and says nothing of
//!   `additionalProperties` is closed with `unevaluatedProperties: false`. Closing happens
//!   where a schema is used, never inside an `allOf` branch (a closed branch would refuse the
//!   properties of its siblings); the `allOf` itself is closed instead. Object schemas that
//!   declare no properties are free-form maps and stay open.
//! - `format: int32` / `int64` become bounds.
//!
//! Only local references (`#/components/...`) are followed: a spec never makes the
//! gateway read another file or the network.

use serde_json::{Map, Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V30,
    V31,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Request,
    Response,
}

#[derive(Debug, Clone, Copy)]
pub struct Dialect {
    pub version: Version,
    pub direction: Direction,
    pub strict: bool,
}

/// Keywords whose value is one schema.
const ONE: &[&str] = &[
    "items",
    "additionalProperties",
    "not",
    "contains",
    "if",
    "then",
    "else",
    "propertyNames",
    "unevaluatedProperties",
    "unevaluatedItems",
    "additionalItems",
    "contentSchema",
];
/// Keywords whose value is a list of schemas.
const LIST: &[&str] = &["anyOf", "oneOf", "prefixItems"];
/// Keywords whose value maps names to schemas.
const MAP: &[&str] = &[
    "properties",
    "patternProperties",
    "dependentSchemas",
    "$defs",
    "definitions",
];

/// Follows a local `$ref` (`#/a/b`) in `doc`; `None` when it does not resolve.
pub fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    let decoded = percent_encoding::percent_decode_str(pointer)
        .decode_utf8()
        .ok()?;
    doc.pointer(&decoded)
}

/// `value` with its `$ref`s followed (a bounded number of hops; cycles stop there).
pub fn deref<'a>(doc: &'a Value, mut value: &'a Value) -> &'a Value {
    for _ in 0..16 {
        match value.get("$ref").and_then(Value::as_str) {
            Some(r) => match resolve(doc, r) {
                Some(target) => value = target,
                None => return value,
            },
            None => return value,
        }
    }
    value
}

/// Every `$ref` under `value` that is not local, as an error.
pub fn check_refs(value: &Value, at: &str) -> Result<(), String> {
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(map) => {
                if let Some(r) = map.get("$ref") {
                    match r.as_str() {
                        Some(r) if r.starts_with("#/") || r == "#" => {}
                        _ => {
                            return Err(format!(
                                "{at}: $ref {r} is not local; only references within the spec (#/...) are followed"
                            ));
                        }
                    }
                }
                stack.extend(map.values());
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    Ok(())
}

pub struct Converter<'a> {
    pub doc: &'a Value,
    pub dialect: Dialect,
}

impl Converter<'_> {
    /// The components' schemas, converted: the `$defs`-like part every validator embeds.
    pub fn components(&self) -> Value {
        let mut out = Map::new();
        if let Some(schemas) = self
            .doc
            .pointer("/components/schemas")
            .and_then(Value::as_object)
        {
            for (name, schema) in schemas {
                // A component is closed where it is used, not where it is defined.
                out.insert(name.clone(), self.convert(schema, true));
            }
        }
        json!({ "schemas": out })
    }

    /// A schema in use (a parameter's, a body's).
    pub fn root(&self, schema: &Value) -> Value {
        self.convert(schema, false)
    }

    fn convert(&self, schema: &Value, in_all_of: bool) -> Value {
        let Value::Object(src) = schema else {
            // `true`/`false` schemas, or junk that the validator will report.
            return schema.clone();
        };
        if self.dialect.version == Version::V30
            && let Some(r) = src.get("$ref")
        {
            // 3.0: a reference replaces the object it sits in.
            let mut out = Map::new();
            out.insert("$ref".into(), r.clone());
            return self.close(Value::Object(out), in_all_of);
        }
        let mut out = Map::new();
        for (key, value) in src {
            let converted = if ONE.contains(&key.as_str()) {
                self.convert(value, false)
            } else if key == "allOf" {
                match value {
                    Value::Array(items) => {
                        Value::Array(items.iter().map(|s| self.convert(s, true)).collect())
                    }
                    other => other.clone(),
                }
            } else if LIST.contains(&key.as_str()) {
                match value {
                    Value::Array(items) => {
                        Value::Array(items.iter().map(|s| self.convert(s, false)).collect())
                    }
                    other => other.clone(),
                }
            } else if MAP.contains(&key.as_str()) {
                match value {
                    Value::Object(map) => Value::Object(
                        map.iter()
                            .map(|(k, s)| (k.clone(), self.convert(s, false)))
                            .collect(),
                    ),
                    other => other.clone(),
                }
            } else {
                value.clone()
            };
            out.insert(key.clone(), converted);
        }
        if self.dialect.version == Version::V30 {
            v30_keywords(&mut out);
        }
        formats(&mut out);
        self.direction(&mut out);
        let nullable = self.dialect.version == Version::V30
            && out.remove("nullable") == Some(Value::Bool(true));
        let closed = self.close(Value::Object(out), in_all_of);
        if nullable {
            make_nullable(closed)
        } else {
            closed
        }
    }

    /// Read-only properties in requests, write-only ones in responses.
    fn direction(&self, out: &mut Map<String, Value>) {
        let flag = match self.dialect.direction {
            Direction::Request => "readOnly",
            Direction::Response => "writeOnly",
        };
        let Some(Value::Object(props)) = out.get_mut("properties") else {
            return;
        };
        let hidden: Vec<String> = props
            .iter()
            .filter(|(_, s)| s.get(flag) == Some(&Value::Bool(true)))
            .map(|(k, _)| k.clone())
            .collect();
        if hidden.is_empty() {
            return;
        }
        if self.dialect.strict && self.dialect.direction == Direction::Request {
            for name in &hidden {
                props.insert(name.clone(), Value::Bool(false));
            }
        }
        if let Some(Value::Array(required)) = out.get_mut("required") {
            required.retain(|r| !r.as_str().is_some_and(|r| hidden.iter().any(|h| h == r)));
        }
    }

    /// Under `strict`, closes an object schema that declares its properties.
    fn close(&self, schema: Value, in_all_of: bool) -> Value {
        let Value::Object(mut map) = schema else {
            return schema;
        };
        if self.dialect.strict
            && !in_all_of
            && !map.contains_key("additionalProperties")
            && !map.contains_key("unevaluatedProperties")
            && declares_properties(self.doc, &map, 0)
        {
            map.insert("unevaluatedProperties".into(), Value::Bool(false));
        }
        Value::Object(map)
    }
}

/// Whether a schema declares named properties, itself, through a reference or an `allOf`.
fn declares_properties(doc: &Value, schema: &Map<String, Value>, hops: usize) -> bool {
    if hops > 16 {
        return false;
    }
    if schema.get("properties").is_some_and(Value::is_object) {
        return true;
    }
    if schema
        .get("additionalProperties")
        .or_else(|| schema.get("unevaluatedProperties"))
        .is_some()
    {
        // Says for itself whether it is open.
        return false;
    }
    if let Some(r) = schema.get("$ref").and_then(Value::as_str)
        && let Some(Value::Object(target)) = resolve(doc, r)
        && declares_properties(doc, target, hops + 1)
    {
        return true;
    }
    schema
        .get("allOf")
        .and_then(Value::as_array)
        .is_some_and(|items| {
            items.iter().any(|s| {
                s.as_object()
                    .is_some_and(|s| declares_properties(doc, s, hops + 1))
            })
        })
}

fn v30_keywords(out: &mut Map<String, Value>) {
    for (flag, bound) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        match out.get(flag) {
            Some(Value::Bool(true)) => {
                out.remove(flag);
                if let Some(b) = out.remove(bound) {
                    out.insert(flag.into(), b);
                }
            }
            Some(Value::Bool(false)) => {
                out.remove(flag);
            }
            _ => {}
        }
    }
}

/// OpenAPI's numeric formats as bounds (JSON Schema checks `format` on strings only).
fn formats(out: &mut Map<String, Value>) {
    let (lo, hi): (i64, i64) = match out.get("format").and_then(Value::as_str) {
        Some("int32") => (i32::MIN.into(), i32::MAX.into()),
        Some("int64") => (i64::MIN, i64::MAX),
        _ => return,
    };
    if !out.contains_key("minimum") && !out.contains_key("exclusiveMinimum") {
        out.insert("minimum".into(), lo.into());
    }
    if !out.contains_key("maximum") && !out.contains_key("exclusiveMaximum") {
        out.insert("maximum".into(), hi.into());
    }
}

/// A 3.0 `nullable: true` schema: `null` is also accepted.
fn make_nullable(schema: Value) -> Value {
    let Value::Object(mut map) = schema else {
        return schema;
    };
    if let Some(Value::Array(values)) = map.get_mut("enum")
        && !values.contains(&Value::Null)
    {
        values.push(Value::Null);
    }
    match map.get("type").cloned() {
        Some(Value::String(t)) => {
            map.insert("type".into(), json!([t, "null"]));
            Value::Object(map)
        }
        Some(Value::Array(mut types)) => {
            if !types.contains(&json!("null")) {
                types.push(json!("null"));
            }
            map.insert("type".into(), Value::Array(types));
            Value::Object(map)
        }
        _ => json!({ "anyOf": [{ "type": "null" }, Value::Object(map)] }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(doc: &Value, schema: &Value, strict: bool, version: Version) -> Value {
        Converter {
            doc,
            dialect: Dialect {
                version,
                direction: Direction::Request,
                strict,
            },
        }
        .root(schema)
    }

    #[test]
    fn v30_dialect_is_rewritten() {
        let doc = json!({});
        let s = json!({
            "type": "integer", "nullable": true, "minimum": 1, "exclusiveMinimum": true,
            "maximum": 9, "exclusiveMaximum": false
        });
        assert_eq!(
            convert(&doc, &s, false, Version::V30),
            json!({"type": ["integer", "null"], "exclusiveMinimum": 1, "maximum": 9})
        );
        let r = json!({"$ref": "#/components/schemas/A", "description": "ignored in 3.0"});
        assert_eq!(
            convert(&doc, &r, false, Version::V30),
            json!({"$ref": "#/components/schemas/A"})
        );
        let s = json!({"type": "integer", "format": "int32"});
        assert_eq!(
            convert(&doc, &s, false, Version::V31)["maximum"],
            json!(i32::MAX)
        );
    }

    #[test]
    fn strict_closes_where_schemas_are_used() {
        let doc = json!({"components": {"schemas": {
            "Pet": {"type": "object", "properties": {"name": {"type": "string"}}},
            "Map": {"type": "object"}
        }}});
        let body = json!({"allOf": [
            {"$ref": "#/components/schemas/Pet"},
            {"properties": {"tag": {"type": "string"}, "meta": {"$ref": "#/components/schemas/Map"}}}
        ]});
        let c = convert(&doc, &body, true, Version::V31);
        assert_eq!(c["unevaluatedProperties"], json!(false));
        assert!(c["allOf"][0].get("unevaluatedProperties").is_none());
        assert!(c["allOf"][1].get("unevaluatedProperties").is_none());
        // A free-form map stays open.
        assert!(
            c["allOf"][1]["properties"]["meta"]
                .get("unevaluatedProperties")
                .is_none()
        );
        let open = json!({"properties": {"a": {}}, "additionalProperties": true});
        assert!(
            convert(&doc, &open, true, Version::V31)
                .get("unevaluatedProperties")
                .is_none()
        );
        assert!(
            convert(&doc, &body, false, Version::V31)
                .get("unevaluatedProperties")
                .is_none()
        );
    }

    #[test]
    fn read_only_properties_are_not_required_in_requests_and_refused_when_strict() {
        let doc = json!({});
        let s = json!({"required": ["id", "name"], "properties": {
            "id": {"type": "integer", "readOnly": true}, "name": {"type": "string"}
        }});
        let lax = convert(&doc, &s, false, Version::V30);
        assert_eq!(lax["required"], json!(["name"]));
        assert_eq!(lax["properties"]["id"]["type"], "integer");
        let strict = convert(&doc, &s, true, Version::V30);
        assert_eq!(strict["properties"]["id"], json!(false));
    }

    #[test]
    fn only_local_references_are_followed() {
        assert!(check_refs(&json!({"a": {"$ref": "#/components/schemas/A"}}), "x").is_ok());
        assert!(check_refs(&json!({"a": [{"$ref": "other.yaml#/A"}]}), "x").is_err());
        assert!(check_refs(&json!({"$ref": "https://evil.example/s.json"}), "x").is_err());
    }
}
