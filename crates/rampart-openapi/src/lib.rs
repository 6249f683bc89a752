//! rampart's OpenAPI request validation (see `docs/design/input-validation.md`).
//!
//! [`Spec::load`] reads an OpenAPI 3.0 or 3.1 document (JSON, or YAML through the bounded
//! reader in [`document`]), checks that every reference in it is local, and compiles each
//! operation: its parameters (path, query, header, cookie) and its request body per media
//! type, each with a JSON Schema validator ([`schema`] turns OpenAPI's dialect into JSON
//! Schema 2020-12). [`Spec::find`] matches a request to an operation by method and path
//! template; [`Operation::check_head`] and [`Operation::check_body`] return what is wrong
//! as [`Violation`]s: where (`query.limit`, `json.$.pet.name`) and which rule failed
//! (`maximum`, `required`, `unevaluatedProperties`), never the value that failed it.
#![forbid(unsafe_code)]

pub mod document;
mod params;
pub mod schema;

use std::fmt;
use std::path::Path;

use serde_json::Value;

use params::{Param, Place, Shape};
use schema::{Converter, Dialect, Direction, Version};

/// How a spec is applied (from the route's `openapi` table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Objects that declare their properties accept no others; read-only properties are
    /// refused in requests; query parameters the operation does not declare are refused.
    pub strict: bool,
    /// The path prefix of the API as clients call it; `None` takes it from `servers`.
    pub base_path: Option<String>,
    /// The deepest nesting accepted in a JSON body.
    pub max_json_depth: usize,
    /// The most values (scalars, arrays and objects) accepted in a JSON body.
    pub max_json_elements: usize,
    /// Compile the response schemas too, for [`Operation::check_response`].
    pub responses: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            strict: false,
            base_path: None,
            max_json_depth: 32,
            max_json_elements: 10_000,
            responses: false,
        }
    }
}

/// At most this many violations are reported for one request.
pub const MAX_VIOLATIONS: usize = 10;
/// Locations are cut to this many characters.
const MAX_LOCATION: usize = 96;

/// What is wrong with a request: where, and which rule it broke. Never the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// `path.id`, `query.limit`, `header.X-Trace`, `cookie.session`, `json.$.a[0]`,
    /// `form.name` or `body`.
    pub location: String,
    /// A JSON Schema keyword (`type`, `maximum`, `pattern`, `required`...) or one of the
    /// gateway's: `content_type`, `unexpected`, `duplicate`, `unknown_parameter`,
    /// `syntax`, `max_depth`, `max_elements`.
    pub rule: String,
}

impl Violation {
    fn new(location: impl Into<String>, rule: impl Into<String>) -> Violation {
        let mut location = location.into();
        if location.len() > MAX_LOCATION {
            let mut cut = MAX_LOCATION;
            while !location.is_char_boundary(cut) {
                cut -= 1;
            }
            location.truncate(cut);
            location.push('…');
        }
        Violation {
            location,
            rule: rule.into(),
        }
    }

    /// The request's media type is not one the operation accepts (a 415, not a 400).
    pub fn is_media_type(&self) -> bool {
        self.rule == "content_type"
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.rule)
    }
}

/// A spec that could not be loaded: why, and where in the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError(pub String);

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LoadError {}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

#[derive(Debug)]
enum Segment {
    Literal(String),
    /// A parameter, possibly with literal text around it in the same segment
    /// (`{name}.json`).
    Param {
        prefix: String,
        name: String,
        suffix: String,
    },
}

#[derive(Debug)]
struct PathItem {
    segments: Vec<Segment>,
    literals: usize,
    /// (upper-case method, index into [`Spec::operations`]).
    operations: Vec<(String, usize)>,
}

/// A loaded, compiled spec.
#[derive(Debug)]
pub struct Spec {
    bases: Vec<String>,
    paths: Vec<PathItem>,
    operations: Vec<Operation>,
}

/// What [`Spec::find`] found for a request.
pub enum Lookup<'a> {
    /// The operation, and its path parameters (percent-decoded) by name.
    Found(&'a Operation, Vec<(String, String)>),
    /// The path is in the spec; the method is not. The methods that are, upper-case.
    MethodNotAllowed(Vec<&'a str>),
    NotFound,
}

/// One operation, compiled.
pub struct Operation {
    /// `operationId`, or `METHOD /template`.
    pub id: String,
    params: Vec<Param>,
    body: Option<Body>,
    /// By status key (`200`, `2XX`, `default`); empty unless [`Options::responses`].
    responses: Vec<(String, Vec<Media>)>,
    strict: bool,
    max_depth: usize,
    max_elements: usize,
}

impl fmt::Debug for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Operation")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

struct Body {
    required: bool,
    media: Vec<Media>,
}

struct Media {
    /// Lower-case media range: `application/json`, `application/*`, `*/*`.
    range: String,
    kind: MediaKind,
}

enum MediaKind {
    Json(Option<jsonschema::Validator>),
    /// Fields of an urlencoded form, each typed by its property schema, and the validator
    /// of the whole object.
    Form(Option<(jsonschema::Validator, Vec<(String, Shape)>)>),
    /// Accepted by type only.
    Other,
}

impl Spec {
    /// Reads and compiles the spec at `path`.
    pub fn load(path: &Path, options: &Options) -> Result<Spec, LoadError> {
        let bytes = std::fs::read(path)
            .map_err(|e| LoadError(format!("cannot read {}: {e}", path.display())))?;
        Spec::from_slice(&bytes, options)
    }

    /// Compiles a spec from its text.
    pub fn from_slice(bytes: &[u8], options: &Options) -> Result<Spec, LoadError> {
        let doc = document::parse(bytes).map_err(|e| LoadError(format!("the spec {e}")))?;
        Spec::from_value(&doc, options)
    }

    pub fn from_value(doc: &Value, options: &Options) -> Result<Spec, LoadError> {
        let version = match doc.get("openapi").and_then(Value::as_str) {
            Some(v) if v.starts_with("3.0.") || v == "3.0" => Version::V30,
            Some(v) if v.starts_with("3.1.") || v == "3.1" => Version::V31,
            Some(v) => {
                return Err(LoadError(format!(
                    "openapi: version {v} is not supported (3.0 and 3.1 are)"
                )));
            }
            None if doc.get("swagger").is_some() => {
                return Err(LoadError(
                    "swagger: Swagger 2.0 is not supported; convert the spec to OpenAPI 3".into(),
                ));
            }
            None => {
                return Err(LoadError(
                    "openapi: missing; this is not an OpenAPI document".into(),
                ));
            }
        };
        schema::check_refs(doc, "the spec").map_err(LoadError)?;
        let bases = match &options.base_path {
            Some(b) => vec![b.trim_end_matches('/').to_owned()],
            None => server_bases(doc),
        };
        let request = Dialect {
            version,
            direction: Direction::Request,
            strict: options.strict,
        };
        let converter = Converter {
            doc,
            dialect: request,
        };
        let components = converter.components();
        let response_side = options.responses.then(|| {
            let converter = Converter {
                doc,
                dialect: Dialect {
                    direction: Direction::Response,
                    ..request
                },
            };
            let components = converter.components();
            (converter, components)
        });
        let mut spec = Spec {
            bases,
            paths: Vec::new(),
            operations: Vec::new(),
        };
        let paths = match doc.get("paths") {
            Some(Value::Object(p)) => p.clone(),
            None => Default::default(),
            Some(_) => return Err(LoadError("paths: is not an object".into())),
        };
        for (template, item) in &paths {
            let at = format!("paths.{template}");
            if !template.starts_with('/') {
                return Err(LoadError(format!("{at}: a path must start with '/'")));
            }
            let item = schema::deref(doc, item);
            let Value::Object(item_map) = item else {
                return Err(LoadError(format!("{at}: is not an object")));
            };
            let segments = parse_template(template).map_err(|e| LoadError(format!("{at}: {e}")))?;
            let literals = segments
                .iter()
                .filter(|s| matches!(s, Segment::Literal(_)))
                .count();
            let shared = item_map.get("parameters");
            let mut operations = Vec::new();
            for method in METHODS {
                let Some(op) = item_map.get(method) else {
                    continue;
                };
                let at = format!("{at}.{method}");
                let mut compiled = compile_operation(
                    doc,
                    &converter,
                    &components,
                    options,
                    method,
                    template,
                    shared,
                    op,
                )
                .map_err(|e| LoadError(format!("{at}: {e}")))?;
                if let Some((converter, components)) = &response_side {
                    compiled.responses = compile_responses(doc, converter, components, op)
                        .map_err(|e| LoadError(format!("{at}: {e}")))?;
                }
                operations.push((method.to_ascii_uppercase(), spec.operations.len()));
                spec.operations.push(compiled);
            }
            spec.paths.push(PathItem {
                segments,
                literals,
                operations,
            });
        }
        // Concrete paths before templated ones: the most literal segments first.
        spec.paths.sort_by_key(|p| std::cmp::Reverse(p.literals));
        Ok(spec)
    }

    /// The number of operations.
    pub fn len(&self) -> usize {
        self.operations.len()
    }

    pub fn is_empty(&self) -> bool {
        self.operations.is_empty()
    }

    /// The operation for `method` and `path` (the path as the gateway received it,
    /// normalized, without the query).
    pub fn find(&self, method: &str, path: &str) -> Lookup<'_> {
        let mut path_found: Option<&PathItem> = None;
        for base in &self.bases {
            let Some(rest) = strip_base(path, base) else {
                continue;
            };
            let parts: Vec<&str> = rest.split('/').skip(1).collect();
            for item in &self.paths {
                let Some(params) = match_segments(&item.segments, &parts) else {
                    continue;
                };
                let op = item
                    .operations
                    .iter()
                    .find(|(m, _)| m == method)
                    .or_else(|| {
                        // HEAD is GET without the body.
                        (method == "HEAD")
                            .then(|| item.operations.iter().find(|(m, _)| m == "GET"))
                            .flatten()
                    });
                match op {
                    Some((_, i)) => return Lookup::Found(&self.operations[*i], params),
                    None => {
                        path_found.get_or_insert(item);
                    }
                }
            }
        }
        match path_found {
            Some(item) => {
                Lookup::MethodNotAllowed(item.operations.iter().map(|(m, _)| m.as_str()).collect())
            }
            None => Lookup::NotFound,
        }
    }
}

/// The path prefixes clients call the API under, from `servers` (default `/`).
fn server_bases(doc: &Value) -> Vec<String> {
    let mut bases = Vec::new();
    for server in doc
        .get("servers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(url) = server.get("url").and_then(Value::as_str) else {
            continue;
        };
        let mut url = url.to_owned();
        if let Some(vars) = server.get("variables").and_then(Value::as_object) {
            for (name, var) in vars {
                if let Some(default) = var.get("default").and_then(Value::as_str) {
                    url = url.replace(&format!("{{{name}}}"), default);
                }
            }
        }
        let path = match url.find("://") {
            Some(i) => {
                let after = &url[i + 3..];
                after.find('/').map_or("", |j| &after[j..])
            }
            None if url.starts_with("//") => url[2..].find('/').map_or("", |j| &url[2 + j..]),
            None => url.as_str(),
        };
        let path = path.split(['?', '#']).next().unwrap_or("");
        let base = path.trim_end_matches('/').to_owned();
        let base = if base.starts_with('/') || base.is_empty() {
            base
        } else {
            format!("/{base}")
        };
        if !bases.contains(&base) {
            bases.push(base);
        }
    }
    if bases.is_empty() {
        bases.push(String::new());
    }
    bases
}

fn strip_base<'a>(path: &'a str, base: &str) -> Option<&'a str> {
    if base.is_empty() {
        return Some(path);
    }
    let rest = path.strip_prefix(base)?;
    if rest.is_empty() {
        Some("/")
    } else if rest.starts_with('/') {
        Some(rest)
    } else {
        None
    }
}

fn parse_template(template: &str) -> Result<Vec<Segment>, String> {
    let mut segments = Vec::new();
    for seg in template.split('/').skip(1) {
        match seg.find('{') {
            None => {
                if seg.contains('}') {
                    return Err("has an unbalanced '}'".into());
                }
                segments.push(Segment::Literal(seg.to_owned()));
            }
            Some(open) => {
                let close = seg[open..]
                    .find('}')
                    .map(|c| open + c)
                    .ok_or("has an unbalanced '{'")?;
                let name = &seg[open + 1..close];
                let suffix = &seg[close + 1..];
                if name.is_empty() || suffix.contains(['{', '}']) {
                    return Err(
                        "holds a parameter the gateway cannot match (one per segment)".into(),
                    );
                }
                segments.push(Segment::Param {
                    prefix: seg[..open].to_owned(),
                    name: name.to_owned(),
                    suffix: suffix.to_owned(),
                });
            }
        }
    }
    Ok(segments)
}

fn match_segments(segments: &[Segment], parts: &[&str]) -> Option<Vec<(String, String)>> {
    if segments.len() != parts.len() {
        return None;
    }
    let mut params = Vec::new();
    for (seg, part) in segments.iter().zip(parts) {
        match seg {
            Segment::Literal(l) => {
                if l != part {
                    return None;
                }
            }
            Segment::Param {
                prefix,
                name,
                suffix,
            } => {
                let value = part
                    .strip_prefix(prefix.as_str())?
                    .strip_suffix(suffix.as_str())?;
                if value.is_empty() {
                    return None;
                }
                let decoded = percent_encoding::percent_decode_str(value)
                    .decode_utf8_lossy()
                    .into_owned();
                params.push((name.clone(), decoded));
            }
        }
    }
    Some(params)
}

/// Compiles one JSON Schema (already converted) into a validator, with the spec's
/// components beside it so that `#/components/schemas/...` resolves.
fn validator(schema: Value, components: &Value) -> Result<jsonschema::Validator, String> {
    let mut root = match schema {
        Value::Object(map) => map,
        other => {
            let mut map = serde_json::Map::new();
            map.insert("allOf".into(), Value::Array(vec![other]));
            map
        }
    };
    root.insert("components".into(), components.clone());
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .with_pattern_options(jsonschema::PatternOptions::regex())
        .build(&Value::Object(root))
        .map_err(|e| format!("a schema does not compile: {e}"))
}

#[allow(clippy::too_many_arguments)]
fn compile_operation(
    doc: &Value,
    converter: &Converter<'_>,
    components: &Value,
    options: &Options,
    method: &str,
    template: &str,
    shared: Option<&Value>,
    op: &Value,
) -> Result<Operation, String> {
    let id = op.get("operationId").and_then(Value::as_str).map_or_else(
        || format!("{} {template}", method.to_ascii_uppercase()),
        str::to_owned,
    );
    // Operation parameters override path-item ones of the same name and place.
    let mut raw: Vec<&Value> = Vec::new();
    for list in [op.get("parameters"), shared].into_iter().flatten() {
        let Value::Array(list) = list else {
            return Err("parameters: is not a list".into());
        };
        for p in list {
            let p = schema::deref(doc, p);
            let key = (p.get("name"), p.get("in"));
            if !raw.iter().any(|q| (q.get("name"), q.get("in")) == key) {
                raw.push(p);
            }
        }
    }
    let mut params = Vec::new();
    for p in raw {
        params.push(Param::compile(doc, converter, components, p)?);
    }
    for seg in parse_template(template)? {
        if let Segment::Param { name, .. } = seg
            && !params
                .iter()
                .any(|p| p.place == Place::Path && p.name == name)
        {
            // An undeclared path parameter is still a segment: any value matches it.
            params.push(Param::any_path(name));
        }
    }
    let body = match op.get("requestBody") {
        None => None,
        Some(rb) => Some(compile_body(
            doc,
            converter,
            components,
            schema::deref(doc, rb),
        )?),
    };
    Ok(Operation {
        id,
        params,
        body,
        responses: Vec::new(),
        strict: options.strict,
        max_depth: options.max_json_depth,
        max_elements: options.max_json_elements,
    })
}

fn compile_responses(
    doc: &Value,
    converter: &Converter<'_>,
    components: &Value,
    op: &Value,
) -> Result<Vec<(String, Vec<Media>)>, String> {
    let mut out = Vec::new();
    for (status, response) in op
        .get("responses")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let response = schema::deref(doc, response);
        let mut media = Vec::new();
        for (range, m) in response
            .get("content")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let range = essence(range);
            let kind = match (is_json(&range), m.get("schema")) {
                (true, Some(s)) => MediaKind::Json(Some(
                    validator(converter.root(s), components)
                        .map_err(|e| format!("responses.{status}.content.{range}: {e}"))?,
                )),
                _ => MediaKind::Other,
            };
            media.push(Media { range, kind });
        }
        media.sort_by_key(|m| m.range.matches('*').count());
        out.push((status.to_ascii_uppercase(), media));
    }
    Ok(out)
}

fn compile_body(
    doc: &Value,
    converter: &Converter<'_>,
    components: &Value,
    rb: &Value,
) -> Result<Body, String> {
    let required = rb.get("required") == Some(&Value::Bool(true));
    let mut media = Vec::new();
    for (range, m) in rb
        .get("content")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let range = essence(range);
        let schema = m.get("schema");
        let kind = if is_json(&range) {
            MediaKind::Json(
                schema
                    .map(|s| validator(converter.root(s), components))
                    .transpose()
                    .map_err(|e| format!("requestBody.content.{range}: {e}"))?,
            )
        } else if range == "application/x-www-form-urlencoded" {
            match schema {
                Some(s) => {
                    let fields = schema::deref(doc, s)
                        .get("properties")
                        .and_then(Value::as_object)
                        .map(|props| {
                            props
                                .iter()
                                .map(|(k, v)| (k.clone(), Shape::of(doc, v)))
                                .collect()
                        })
                        .unwrap_or_default();
                    let v = validator(converter.root(s), components)
                        .map_err(|e| format!("requestBody.content.{range}: {e}"))?;
                    MediaKind::Form(Some((v, fields)))
                }
                None => MediaKind::Form(None),
            }
        } else {
            MediaKind::Other
        };
        media.push(Media { range, kind });
    }
    // The most specific range first: `application/json` before `application/*` before `*/*`.
    media.sort_by_key(|m| m.range.matches('*').count());
    Ok(Body { required, media })
}

/// The lower-case `type/subtype` of a media type, without parameters.
fn essence(media_type: &str) -> String {
    media_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn is_json(essence: &str) -> bool {
    essence == "application/json" || essence.ends_with("+json")
}

fn range_matches(range: &str, essence: &str) -> bool {
    if range == "*/*" || range == essence {
        return true;
    }
    match range.strip_suffix("/*") {
        Some(top) => essence.split('/').next() == Some(top),
        None => false,
    }
}

/// The parts of a request's head that validation reads.
pub struct Head<'a> {
    pub path_params: &'a [(String, String)],
    pub query: Option<&'a str>,
    pub headers: &'a http::HeaderMap,
    /// Whether the request carries a body (a length above zero, or chunks).
    pub has_body: bool,
}

impl Operation {
    /// Checks the parameters, and the body's presence and media type. An empty list means
    /// the head is valid.
    pub fn check_head(&self, head: &Head<'_>) -> Vec<Violation> {
        let mut out = Vec::new();
        let query = params::query_pairs(head.query);
        for p in &self.params {
            p.check(head, &query, &mut out);
        }
        if self.strict {
            for (name, _) in &query {
                let base = name.split('[').next().unwrap_or(name);
                let declared = self
                    .params
                    .iter()
                    .any(|p| p.place == Place::Query && (p.name == *name || p.name == base));
                if !declared && out.len() < MAX_VIOLATIONS {
                    out.push(Violation::new(format!("query.{name}"), "unknown_parameter"));
                }
            }
        }
        let content_type = head
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        match (&self.body, head.has_body) {
            (None, true) => out.push(Violation::new("body", "unexpected")),
            (Some(body), false) if body.required => out.push(Violation::new("body", "required")),
            (Some(body), true) => {
                let accepted = content_type.is_some_and(|ct| self.media(body, ct).is_some());
                if !accepted {
                    out.push(Violation::new("header.Content-Type", "content_type"));
                }
            }
            _ => {}
        }
        out.truncate(MAX_VIOLATIONS);
        out
    }

    fn media<'a>(&self, body: &'a Body, content_type: &str) -> Option<&'a Media> {
        let essence = essence(content_type);
        body.media
            .iter()
            .find(|m| range_matches(&m.range, &essence))
    }

    /// Whether the body must be read to be validated (a JSON or form schema applies).
    pub fn reads_body(&self, content_type: Option<&str>) -> bool {
        let (Some(body), Some(ct)) = (&self.body, content_type) else {
            return false;
        };
        matches!(
            self.media(body, ct).map(|m| &m.kind),
            Some(MediaKind::Json(Some(_)) | MediaKind::Form(Some(_)))
        )
    }

    /// Checks a body read whole against the schema of its media type.
    pub fn check_body(&self, content_type: Option<&str>, bytes: &[u8]) -> Vec<Violation> {
        let mut out = Vec::new();
        let (Some(body), Some(ct)) = (&self.body, content_type) else {
            return out;
        };
        match self.media(body, ct).map(|m| &m.kind) {
            Some(MediaKind::Json(Some(v))) => self.check_json(v, bytes, &mut out),
            Some(MediaKind::Form(Some((v, fields)))) => {
                let text = String::from_utf8_lossy(bytes);
                let pairs = params::query_pairs(Some(&text));
                let object = params::form_object(&pairs, fields, &mut out);
                if out.is_empty() {
                    schema_errors(v, &object, "form", &mut out);
                }
            }
            _ => {}
        }
        out.truncate(MAX_VIOLATIONS);
        out
    }

    /// Checks an upstream response against the operation's `responses` (compiled only with
    /// [`Options::responses`]): the status must be declared (exactly, as `2XX`, or by
    /// `default`), the media type listed, a JSON body valid.
    pub fn check_response(
        &self,
        status: u16,
        content_type: Option<&str>,
        bytes: &[u8],
    ) -> Vec<Violation> {
        let mut out = Vec::new();
        let exact = status.to_string();
        let range = format!("{}XX", status / 100);
        let Some((_, media)) = ["default", range.as_str(), exact.as_str()]
            .iter()
            .rev()
            .find_map(|key| self.responses.iter().find(|(k, _)| k == key))
        else {
            out.push(Violation::new("status", "undeclared"));
            return out;
        };
        if media.is_empty() {
            if !bytes.is_empty() {
                out.push(Violation::new("body", "unexpected"));
            }
            return out;
        }
        let essence = content_type.map(essence).unwrap_or_default();
        match media.iter().find(|m| range_matches(&m.range, &essence)) {
            None => out.push(Violation::new("header.Content-Type", "content_type")),
            Some(Media {
                kind: MediaKind::Json(Some(v)),
                ..
            }) => self.check_json(v, bytes, &mut out),
            Some(_) => {}
        }
        out.truncate(MAX_VIOLATIONS);
        out
    }

    fn check_json(&self, v: &jsonschema::Validator, bytes: &[u8], out: &mut Vec<Violation>) {
        let value: Value = match serde_json::from_slice(bytes) {
            Ok(value) => value,
            Err(e) if e.to_string().contains("recursion limit") => {
                out.push(Violation::new("json.$", "max_depth"));
                return;
            }
            Err(_) => {
                out.push(Violation::new("json.$", "syntax"));
                return;
            }
        };
        let (depth, elements) = shape(&value);
        if depth > self.max_depth {
            out.push(Violation::new("json.$", "max_depth"));
        }
        if elements > self.max_elements {
            out.push(Violation::new("json.$", "max_elements"));
        }
        if out.is_empty() {
            schema_errors(v, &value, "json.$", out);
        }
    }
}

/// The nesting depth and the number of values of a JSON document, without recursion.
fn shape(value: &Value) -> (usize, usize) {
    let mut deepest = 0;
    let mut count = 0;
    let mut stack = vec![(value, 1)];
    while let Some((v, d)) = stack.pop() {
        count += 1;
        deepest = deepest.max(d);
        match v {
            Value::Array(items) => stack.extend(items.iter().map(|i| (i, d + 1))),
            Value::Object(map) => stack.extend(map.values().map(|i| (i, d + 1))),
            _ => {}
        }
    }
    (deepest, count)
}

/// A schema's errors as violations under `prefix` (`json.$`, `query.ids`, `form`).
fn schema_errors(v: &jsonschema::Validator, value: &Value, prefix: &str, out: &mut Vec<Violation>) {
    use jsonschema::error::ValidationErrorKind as Kind;
    for error in v.iter_errors(value) {
        if out.len() >= MAX_VIOLATIONS {
            break;
        }
        let mut location = prefix.to_owned();
        for seg in error.instance_path().segments() {
            match seg {
                jsonschema::paths::LocationSegment::Property(p) => {
                    location.push('.');
                    location.push_str(&p);
                }
                jsonschema::paths::LocationSegment::Index(i) => {
                    location.push_str(&format!("[{i}]"));
                }
            }
        }
        // Name the property a rule is about, when the rule says which.
        match error.kind() {
            Kind::Required { property } => {
                if let Some(p) = property.as_str() {
                    location.push('.');
                    location.push_str(p);
                }
            }
            Kind::AdditionalProperties { unexpected }
            | Kind::UnevaluatedProperties { unexpected } => {
                if let Some(p) = unexpected.first() {
                    location.push('.');
                    location.push_str(p);
                }
            }
            _ => {}
        }
        out.push(Violation::new(location, error.kind().keyword()));
    }
}

#[cfg(test)]
mod tests;
