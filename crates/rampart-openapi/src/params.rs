//! Parameters: finding each one's value in the request, turning the text into the JSON
//! value its schema describes (by `style` and `explode`, as OpenAPI serializes them), and
//! checking it.
//!
//! A value that does not parse as its type stays a string, so that the schema reports
//! `type`. A scalar parameter sent twice is refused (`duplicate`): which copy an upstream
//! reads differs between frameworks, which is what HTTP parameter pollution exploits.

use serde_json::{Map, Value};

use crate::schema::{self, Converter};
use crate::{Head, Violation, schema_errors, validator};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    Path,
    Query,
    Header,
    Cookie,
}

impl Place {
    fn prefix(self) -> &'static str {
        match self {
            Place::Path => "path",
            Place::Query => "query",
            Place::Header => "header",
            Place::Cookie => "cookie",
        }
    }
}

/// The JSON type a text value is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    String,
    Integer,
    Number,
    Boolean,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Shape {
    Scalar(Kind),
    Array(Kind),
    Object(Vec<(String, Kind)>),
    /// A parameter with `content`: its value is a JSON document.
    Json,
}

/// The schema's type name, the first that is not `"null"` when it lists several.
fn type_name(schema: &Value) -> Option<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => Some(t.as_str()),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null"),
        _ => None,
    }
}

/// Composed schemas are followed through their first branch, at most this deep (a spec
/// may nest them in a cycle: `A = allOf: [$ref A]`).
const MAX_COMPOSED: usize = 16;

fn kind_of(doc: &Value, schema: &Value) -> Kind {
    let mut schema = schema::deref(doc, schema);
    for _ in 0..MAX_COMPOSED {
        match type_name(schema) {
            Some("integer") => return Kind::Integer,
            Some("number") => return Kind::Number,
            Some("boolean") => return Kind::Boolean,
            Some(_) => return Kind::String,
            None => {
                // A composed schema: the first branch that names a type.
                let first = ["allOf", "oneOf", "anyOf"].iter().find_map(|key| {
                    schema
                        .get(*key)
                        .and_then(Value::as_array)
                        .and_then(|i| i.first())
                });
                match first {
                    Some(first) => schema = schema::deref(doc, first),
                    None => return Kind::String,
                }
            }
        }
    }
    Kind::String
}

impl Shape {
    pub(crate) fn of(doc: &Value, schema: &Value) -> Shape {
        let resolved = schema::deref(doc, schema);
        match type_name(resolved) {
            Some("array") => Shape::Array(
                resolved
                    .get("items")
                    .map_or(Kind::String, |items| kind_of(doc, items)),
            ),
            Some("object") => Shape::Object(
                resolved
                    .get("properties")
                    .and_then(Value::as_object)
                    .map(|props| {
                        props
                            .iter()
                            .map(|(k, v)| (k.clone(), kind_of(doc, v)))
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            _ => Shape::Scalar(kind_of(doc, schema)),
        }
    }
}

pub(crate) struct Param {
    pub(crate) name: String,
    pub(crate) place: Place,
    required: bool,
    shape: Shape,
    style: String,
    explode: bool,
    validator: Option<jsonschema::Validator>,
}

impl Param {
    pub(crate) fn compile(
        doc: &Value,
        converter: &Converter<'_>,
        components: &Value,
        raw: &Value,
    ) -> Result<Param, String> {
        let name = raw
            .get("name")
            .and_then(Value::as_str)
            .ok_or("parameters: a parameter has no name")?
            .to_owned();
        let place = match raw.get("in").and_then(Value::as_str) {
            Some("path") => Place::Path,
            Some("query") => Place::Query,
            Some("header") => Place::Header,
            Some("cookie") => Place::Cookie,
            other => {
                return Err(format!(
                    "parameters.{name}: in = {} is not path, query, header or cookie",
                    other.unwrap_or("(missing)")
                ));
            }
        };
        if place == Place::Header && http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(format!("parameters.{name}: is not a valid header name"));
        }
        let default_style = match place {
            Place::Query | Place::Cookie => "form",
            Place::Path | Place::Header => "simple",
        };
        let style = raw
            .get("style")
            .and_then(Value::as_str)
            .unwrap_or(default_style)
            .to_owned();
        let explode = raw
            .get("explode")
            .and_then(Value::as_bool)
            .unwrap_or(style == "form");
        let (schema, shape) = match (raw.get("schema"), raw.get("content")) {
            (Some(s), _) => (Some(s), Shape::of(doc, s)),
            (None, Some(Value::Object(content))) => (
                content.values().next().and_then(|m| m.get("schema")),
                Shape::Json,
            ),
            _ => (None, Shape::Scalar(Kind::String)),
        };
        let validator = schema
            .map(|s| validator(converter.root(s), components))
            .transpose()
            .map_err(|e| format!("parameters.{name}: {e}"))?;
        Ok(Param {
            required: place == Place::Path || raw.get("required") == Some(&Value::Bool(true)),
            name,
            place,
            shape,
            style,
            explode,
            validator,
        })
    }

    /// A path parameter the operation does not declare: present, unchecked.
    pub(crate) fn any_path(name: String) -> Param {
        Param {
            name,
            place: Place::Path,
            required: true,
            shape: Shape::Scalar(Kind::String),
            style: "simple".into(),
            explode: false,
            validator: None,
        }
    }

    pub(crate) fn check(
        &self,
        head: &Head<'_>,
        query: &[(String, String)],
        out: &mut Vec<Violation>,
    ) {
        let location = format!("{}.{}", self.place.prefix(), self.name);
        let instance = match self.instance(head, query) {
            Ok(Some(instance)) => instance,
            Ok(None) => {
                if self.required {
                    out.push(Violation::new(location, "required"));
                }
                return;
            }
            Err(rule) => {
                out.push(Violation::new(location, rule));
                return;
            }
        };
        if let Some(v) = &self.validator {
            schema_errors(v, &instance, &location, out);
        }
    }

    /// The parameter's value as JSON: `Ok(None)` when absent, `Err(rule)` when it cannot
    /// be read at all.
    fn instance(
        &self,
        head: &Head<'_>,
        query: &[(String, String)],
    ) -> Result<Option<Value>, &'static str> {
        if let (Place::Query, Shape::Object(props)) = (self.place, &self.shape)
            && self.style == "deepObject"
        {
            let mut object = Map::new();
            let prefix = format!("{}[", self.name);
            for (k, v) in query {
                if let Some(prop) = k.strip_prefix(&prefix).and_then(|r| r.strip_suffix(']')) {
                    if object.contains_key(prop) {
                        return Err("duplicate");
                    }
                    let kind = props
                        .iter()
                        .find(|(p, _)| p == prop)
                        .map_or(Kind::String, |(_, k)| *k);
                    object.insert(prop.to_owned(), coerce(v, kind));
                }
            }
            return Ok((!object.is_empty()).then_some(Value::Object(object)));
        }
        let values: Vec<String> = match self.place {
            Place::Path => head
                .path_params
                .iter()
                .filter(|(n, _)| *n == self.name)
                .map(|(_, v)| v.clone())
                .collect(),
            Place::Query => query
                .iter()
                .filter(|(k, _)| *k == self.name)
                .map(|(_, v)| v.clone())
                .collect(),
            Place::Header => head
                .headers
                .get_all(self.name.as_str())
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect(),
            Place::Cookie => head
                .headers
                .get_all(http::header::COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(';'))
                .filter_map(|c| c.trim().split_once('='))
                .filter(|(n, _)| *n == self.name)
                .map(|(_, v)| v.to_owned())
                .collect(),
        };
        let Some(first) = values.first() else {
            return Ok(None);
        };
        let exploded_form = self.explode && self.style == "form" && self.place == Place::Query;
        if values.len() > 1 && !(exploded_form && matches!(self.shape, Shape::Array(_))) {
            return Err("duplicate");
        }
        Ok(Some(match &self.shape {
            Shape::Scalar(kind) => coerce(first, *kind),
            Shape::Json => serde_json::from_str(first).map_err(|_| "syntax")?,
            Shape::Array(kind) => {
                let items: Vec<&str> = if exploded_form {
                    values.iter().map(String::as_str).collect()
                } else if first.is_empty() {
                    Vec::new()
                } else {
                    let sep = match self.style.as_str() {
                        "spaceDelimited" => ' ',
                        "pipeDelimited" => '|',
                        _ => ',',
                    };
                    first.split(sep).collect()
                };
                Value::Array(items.into_iter().map(|i| coerce(i, *kind)).collect())
            }
            Shape::Object(props) => {
                // `simple` / non-exploded `form`: `k1,v1,k2,v2`.
                let parts: Vec<&str> = first.split(',').collect();
                if !parts.len().is_multiple_of(2) {
                    return Err("style");
                }
                let mut object = Map::new();
                for pair in parts.chunks(2) {
                    let kind = props
                        .iter()
                        .find(|(p, _)| p == pair[0])
                        .map_or(Kind::String, |(_, k)| *k);
                    object.insert(pair[0].to_owned(), coerce(pair[1], kind));
                }
                Value::Object(object)
            }
        }))
    }
}

/// Text as the JSON value of `kind`; text that is not one stays a string.
fn coerce(text: &str, kind: Kind) -> Value {
    match kind {
        Kind::Integer => text
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(text.to_owned())),
        Kind::Number => text
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| Value::String(text.to_owned()), Value::Number),
        Kind::Boolean => match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(text.to_owned()),
        },
        Kind::String => Value::String(text.to_owned()),
    }
}

/// `a=1&b=x+y` as decoded pairs (`+` is a space, as forms encode it).
pub(crate) fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    let Some(query) = query else {
        return Vec::new();
    };
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(k), form_decode(v))
        })
        .collect()
}

fn form_decode(text: &str) -> String {
    let spaced = text.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

/// An urlencoded form as the object its schema describes.
pub(crate) fn form_object(
    pairs: &[(String, String)],
    fields: &[(String, Shape)],
    out: &mut Vec<Violation>,
) -> Value {
    let mut object = Map::new();
    for (k, v) in pairs {
        let shape = fields
            .iter()
            .find(|(f, _)| f == k)
            .map_or(&Shape::Scalar(Kind::String), |(_, s)| s);
        match shape {
            Shape::Array(kind) => {
                let entry = object
                    .entry(k.clone())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(items) = entry {
                    items.push(coerce(v, *kind));
                }
            }
            Shape::Scalar(kind) => {
                if object.insert(k.clone(), coerce(v, *kind)).is_some() {
                    out.push(Violation::new(format!("form.{k}"), "duplicate"));
                }
            }
            Shape::Object(_) | Shape::Json => {
                if object.insert(k.clone(), Value::String(v.clone())).is_some() {
                    out.push(Violation::new(format!("form.{k}"), "duplicate"));
                }
            }
        }
    }
    Value::Object(object)
}
