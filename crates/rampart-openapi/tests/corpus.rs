//! OpenAPI validation over the third-party specs in `../shared/corpora/openapi-example-specs`:
//! for every operation, a request built from its own schemas passes, and each mutation of
//! it (a parameter of the wrong type, a required parameter or property left out, a property
//! of the wrong type, an unknown property under `strict`, malformed JSON, an undeclared
//! media type) is refused at the place that was changed.

use std::path::{Path, PathBuf};

use rampart_openapi::{Head, Lookup, Options, Spec, Violation, document, schema};
use serde_json::{Map, Value, json};

fn corpus() -> Vec<PathBuf> {
    let root =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/openapi-example-specs");
    let mut files = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "json") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(
        files.len() >= 6,
        "the corpus is missing: {}",
        root.display()
    );
    files
}

/// A value that the schema accepts, or `None` when the generator cannot make one (a
/// `pattern`, say).
fn sample(doc: &Value, schema: &Value, depth: usize) -> Option<Value> {
    if depth > 8 {
        return None;
    }
    let s = schema::deref(doc, schema);
    if let Some(Value::Array(values)) = s.get("enum") {
        return values.first().cloned();
    }
    if let Some(Value::Array(all)) = s.get("allOf") {
        let mut merged = Map::new();
        for part in all {
            match sample(doc, part, depth + 1)? {
                Value::Object(m) => merged.extend(m),
                other => return Some(other),
            }
        }
        return Some(Value::Object(merged));
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(Value::Array(options)) = s.get(key) {
            return sample(doc, options.first()?, depth + 1);
        }
    }
    let ty = s
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or(if s.get("properties").is_some() {
            "object"
        } else {
            "string"
        });
    Some(match ty {
        "string" => {
            if s.get("pattern").is_some() {
                return None;
            }
            match s.get("format").and_then(Value::as_str) {
                Some("date-time") => json!("2024-01-02T03:04:05Z"),
                Some("date") => json!("2024-01-02"),
                Some("email") => json!("someone@example.com"),
                Some("uuid") => json!("123e4567-e89b-12d3-a456-426614174000"),
                Some("uri") => json!("https://example.com/x"),
                _ => {
                    let min = s.get("minLength").and_then(Value::as_u64).unwrap_or(1) as usize;
                    json!("a".repeat(min.max(1)))
                }
            }
        }
        "integer" => json!(
            s.get("minimum")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                .max(1)
                .min(s.get("maximum").and_then(Value::as_i64).unwrap_or(i64::MAX))
        ),
        "number" => json!(1.5),
        "boolean" => json!(true),
        "array" => {
            let item = sample(doc, s.get("items").unwrap_or(&json!({})), depth + 1)?;
            let n = s
                .get("minItems")
                .and_then(Value::as_u64)
                .unwrap_or(1)
                .max(1) as usize;
            Value::Array(vec![item; n])
        }
        "object" => {
            let mut object = Map::new();
            for (name, prop) in s
                .get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                if schema::deref(doc, prop).get("readOnly") == Some(&json!(true)) {
                    continue;
                }
                object.insert(name.clone(), sample(doc, prop, depth + 1)?);
            }
            Value::Object(object)
        }
        _ => return None,
    })
}

/// The text of a parameter value.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

#[derive(Clone)]
struct Request {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Option<(String, Vec<u8>)>,
}

struct Param {
    name: String,
    place: String,
    required: bool,
    ty: Option<String>,
    value: String,
}

fn check(spec: &Spec, r: &Request) -> Result<Vec<Violation>, String> {
    let (op, params) = match spec.find(&r.method, &r.path) {
        Lookup::Found(op, params) => (op, params),
        Lookup::MethodNotAllowed(_) => return Err("method not allowed".into()),
        Lookup::NotFound => return Err("not found".into()),
    };
    let mut headers = http::HeaderMap::new();
    for (k, v) in &r.headers {
        headers.append(
            http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
            v.parse().expect("value"),
        );
    }
    if let Some((ct, _)) = &r.body {
        headers.insert(http::header::CONTENT_TYPE, ct.parse().expect("ct"));
    }
    let query: String = r
        .query
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
            )
        })
        .collect::<Vec<_>>()
        .join("&");
    let mut violations = op.check_head(&Head {
        path_params: &params,
        query: (!query.is_empty()).then_some(query.as_str()),
        headers: &headers,
        has_body: r.body.is_some(),
    });
    if violations.is_empty()
        && let Some((ct, bytes)) = &r.body
    {
        violations = op.check_body(Some(ct), bytes);
    }
    Ok(violations)
}

#[test]
fn corpus_specs_pass_valid_requests_and_refuse_each_mutation() {
    let mut operations = 0;
    let mut mutations = 0;
    for file in corpus() {
        let name = file
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let doc = document::parse(&std::fs::read(&file).expect("read")).expect("parses");
        for strict in [false, true] {
            let options = Options {
                strict,
                base_path: Some(String::new()),
                ..Options::default()
            };
            let spec = Spec::load(&file, &options).unwrap_or_else(|e| panic!("{name}: {e}"));
            for (template, item) in doc["paths"].as_object().into_iter().flatten() {
                for (method, op) in item.as_object().into_iter().flatten() {
                    if !["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                        continue;
                    }
                    let at = format!("{name} {method} {template} (strict {strict})");
                    let mut params = Vec::new();
                    let mut request = Request {
                        method: method.to_ascii_uppercase(),
                        path: template.clone(),
                        query: Vec::new(),
                        headers: Vec::new(),
                        body: None,
                    };
                    let mut possible = true;
                    let raw: Vec<&Value> = op["parameters"]
                        .as_array()
                        .into_iter()
                        .chain(item["parameters"].as_array())
                        .flatten()
                        .collect();
                    for p in raw {
                        let p = schema::deref(&doc, p);
                        let (pname, place) = (
                            p["name"].as_str().expect("name"),
                            p["in"].as_str().expect("in"),
                        );
                        let required = p["required"] == json!(true) || place == "path";
                        let pschema = p.get("schema").cloned().unwrap_or(json!({}));
                        let Some(value) = sample(&doc, &pschema, 0) else {
                            possible = false;
                            continue;
                        };
                        let ty = schema::deref(&doc, &pschema)["type"]
                            .as_str()
                            .map(str::to_owned);
                        let value = text(&value);
                        match place {
                            "path" => {
                                request.path = request.path.replace(&format!("{{{pname}}}"), &value)
                            }
                            "query" => request.query.push((pname.to_owned(), value.clone())),
                            "header" => request.headers.push((pname.to_owned(), value.clone())),
                            _ => continue,
                        }
                        params.push(Param {
                            name: pname.to_owned(),
                            place: place.to_owned(),
                            required,
                            ty,
                            value,
                        });
                    }
                    let body_schema = schema::deref(&doc, &op["requestBody"])
                        .get("content")
                        .and_then(|c| c.get("application/json"))
                        .and_then(|m| m.get("schema"))
                        .cloned();
                    if let Some(s) = &body_schema {
                        match sample(&doc, s, 0) {
                            Some(v) => {
                                request.body =
                                    Some(("application/json".into(), v.to_string().into_bytes()))
                            }
                            None => possible = false,
                        }
                    } else if op.get("requestBody").is_some() {
                        // Bodies of other media types are checked by type only.
                        let rb = schema::deref(&doc, &op["requestBody"]);
                        if let Some((ct, media)) =
                            rb["content"].as_object().and_then(|c| c.iter().next())
                        {
                            let ct = if ct.contains('*') {
                                "application/octet-stream"
                            } else {
                                ct
                            };
                            let body = if ct == "application/x-www-form-urlencoded" {
                                // Fields from the schema, encoded as a form.
                                let schema = media.get("schema").cloned().unwrap_or(json!({}));
                                let Some(Value::Object(fields)) = sample(&doc, &schema, 0) else {
                                    continue;
                                };
                                fields
                                    .iter()
                                    .map(|(k, v)| {
                                        let v = text(v);
                                        let v = percent_encoding::utf8_percent_encode(
                                            &v,
                                            percent_encoding::NON_ALPHANUMERIC,
                                        );
                                        format!("{k}={v}")
                                    })
                                    .collect::<Vec<_>>()
                                    .join("&")
                                    .into_bytes()
                            } else {
                                b"x".to_vec()
                            };
                            request.body = Some((ct.to_owned(), body));
                        }
                    }
                    if !possible {
                        continue;
                    }
                    operations += 1;
                    let valid = check(&spec, &request).unwrap_or_else(|e| panic!("{at}: {e}"));
                    assert!(
                        valid.is_empty(),
                        "{at}: a valid request was refused: {valid:?}"
                    );

                    let mut refused = |mutated: Request, location: &str, what: &str| {
                        mutations += 1;
                        let v =
                            check(&spec, &mutated).unwrap_or_else(|e| panic!("{at} {what}: {e}"));
                        assert!(
                            v.iter().any(|v| v.location.starts_with(location)),
                            "{at}: {what} was not refused at {location}: {v:?}"
                        );
                    };
                    for p in &params {
                        let location = format!("{}.{}", p.place, p.name);
                        if matches!(p.ty.as_deref(), Some("integer" | "number" | "boolean")) {
                            let mut m = request.clone();
                            match p.place.as_str() {
                                "path" => {
                                    m.path = params.iter().filter(|q| q.place == "path").fold(
                                        template.clone(),
                                        |path, q| {
                                            let v = if q.name == p.name {
                                                "not-a-number"
                                            } else {
                                                &q.value
                                            };
                                            path.replace(&format!("{{{}}}", q.name), v)
                                        },
                                    );
                                }
                                "query" => {
                                    for (k, v) in &mut m.query {
                                        if *k == p.name {
                                            *v = "not-a-number".into();
                                        }
                                    }
                                }
                                _ => {
                                    for (k, v) in &mut m.headers {
                                        if *k == p.name {
                                            *v = "not-a-number".into();
                                        }
                                    }
                                }
                            }
                            refused(m, &location, "a parameter of the wrong type");
                        }
                        if p.required && p.place != "path" {
                            let mut m = request.clone();
                            m.query.retain(|(k, _)| *k != p.name);
                            m.headers.retain(|(k, _)| *k != p.name);
                            refused(m, &location, "a required parameter left out");
                        }
                        if p.place == "query" && (p.ty.as_deref() != Some("array")) {
                            let mut m = request.clone();
                            let v = m
                                .query
                                .iter()
                                .find(|(k, _)| *k == p.name)
                                .map(|(_, v)| v.clone());
                            if let Some(v) = v {
                                m.query.push((p.name.clone(), v));
                                refused(m, &location, "a scalar parameter sent twice");
                            }
                        }
                    }
                    if strict {
                        let mut m = request.clone();
                        m.query.push(("zz_undeclared".into(), "1".into()));
                        refused(m, "query.zz_undeclared", "an undeclared query parameter");
                    }
                    if let (Some(s), Some((ct, bytes))) = (&body_schema, &request.body) {
                        let mut m = request.clone();
                        m.body = Some((ct.clone(), b"{\"unterminated\": ".to_vec()));
                        refused(m, "json.$", "malformed JSON");
                        let mut m = request.clone();
                        m.body = Some(("text/x-unknown".into(), bytes.clone()));
                        refused(m, "header.Content-Type", "an undeclared media type");
                        let s = schema::deref(&doc, s);
                        let value: Value = serde_json::from_slice(bytes).expect("json");
                        for required in s["required"].as_array().into_iter().flatten() {
                            let required = required.as_str().expect("name");
                            let mut v = value.clone();
                            if v.as_object_mut().and_then(|o| o.remove(required)).is_none() {
                                continue;
                            }
                            let mut m = request.clone();
                            m.body = Some((ct.clone(), v.to_string().into_bytes()));
                            refused(
                                m,
                                &format!("json.$.{required}"),
                                "a required property left out",
                            );
                        }
                        for (prop, ps) in s["properties"].as_object().into_iter().flatten() {
                            let ty = schema::deref(&doc, ps)["type"].as_str();
                            let wrong = match ty {
                                Some("string") => json!(12345),
                                Some("integer" | "number" | "boolean" | "array" | "object") => {
                                    json!("wrong")
                                }
                                _ => continue,
                            };
                            let mut v = value.clone();
                            let Some(o) = v.as_object_mut() else { continue };
                            if !o.contains_key(prop) {
                                continue;
                            }
                            o.insert(prop.clone(), wrong);
                            let mut m = request.clone();
                            m.body = Some((ct.clone(), v.to_string().into_bytes()));
                            refused(m, &format!("json.$.{prop}"), "a property of the wrong type");
                        }
                        if strict && s.get("properties").is_some() {
                            let mut v = value.clone();
                            if let Some(o) = v.as_object_mut() {
                                o.insert("zz_unknown".into(), json!(1));
                                let mut m = request.clone();
                                m.body = Some((ct.clone(), v.to_string().into_bytes()));
                                refused(
                                    m,
                                    "json.$.zz_unknown",
                                    "an unknown property (mass assignment)",
                                );
                            }
                        }
                    }
                }
            }
        }
    }
    eprintln!("{operations} operations, {mutations} mutations refused");
    assert!(
        operations >= 30,
        "only {operations} operations were exercised"
    );
    assert!(mutations >= 80, "only {mutations} mutations were exercised");
}

#[test]
fn every_corpus_spec_loads_with_its_server_paths() {
    for file in corpus() {
        let spec = Spec::load(&file, &Options::default())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let doc = document::parse(&std::fs::read(&file).expect("read")).expect("parses");
        let declared: usize = doc["paths"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(_, item)| {
                item.as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(m, _)| {
                        [
                            "get", "put", "post", "delete", "options", "head", "patch", "trace",
                        ]
                        .contains(&m.as_str())
                    })
                    .count()
            })
            .sum();
        assert_eq!(spec.len(), declared, "{}", file.display());
    }
    // The servers' paths are where the operations live.
    let petstore = corpus()
        .into_iter()
        .find(|f| f.ends_with("v3.0/petstore.yaml"))
        .expect("petstore");
    let spec = Spec::load(&petstore, &Options::default()).expect("loads");
    assert!(matches!(spec.find("GET", "/v1/pets"), Lookup::Found(..)));
    assert!(matches!(spec.find("GET", "/pets"), Lookup::NotFound));
    let uspto = corpus()
        .into_iter()
        .find(|f| f.ends_with("uspto.yaml"))
        .expect("uspto");
    let spec = Spec::load(&uspto, &Options::default()).expect("loads");
    assert!(matches!(spec.find("GET", "/ds-api/"), Lookup::Found(..)));
}
