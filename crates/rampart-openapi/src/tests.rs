use super::*;

const SPEC: &str = r#"
openapi: 3.0.3
info: {title: shop, version: "1"}
servers:
  - url: https://api.example.com/v1
paths:
  /orders:
    get:
      operationId: listOrders
      parameters:
        - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 100}}
        - {name: status, in: query, schema: {type: string, enum: [open, shipped]}}
        - {name: ids, in: query, schema: {type: array, items: {type: integer}}}
        - {name: X-Trace, in: header, required: true, schema: {type: string, pattern: "^[a-f0-9]{8}$"}}
        - {name: session, in: cookie, schema: {type: string, maxLength: 8}}
    post:
      operationId: createOrder
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Order'}
          application/x-www-form-urlencoded:
            schema:
              type: object
              required: [sku]
              properties:
                sku: {type: string}
                qty: {type: integer, minimum: 1}
  /orders/{id}:
    parameters:
      - {name: id, in: path, required: true, schema: {type: integer, format: int32}}
    get:
      operationId: getOrder
    delete:
      operationId: deleteOrder
  /orders/latest:
    get:
      operationId: latestOrder
  /files/{name}.json:
    get:
      parameters:
        - {name: name, in: path, required: true, schema: {type: string, maxLength: 4}}
components:
  schemas:
    Order:
      type: object
      required: [id, sku, qty]
      properties:
        id: {type: integer, readOnly: true}
        sku: {type: string, minLength: 3}
        qty: {type: integer, minimum: 1}
        note: {type: string, nullable: true}
        meta: {type: object}
        address: {$ref: '#/components/schemas/Address'}
    Address:
      type: object
      properties:
        city: {type: string}
"#;

fn spec(strict: bool) -> Spec {
    Spec::from_slice(
        SPEC.as_bytes(),
        &Options {
            strict,
            ..Options::default()
        },
    )
    .expect("spec loads")
}

fn find<'a>(spec: &'a Spec, method: &str, path: &str) -> (&'a Operation, Vec<(String, String)>) {
    match spec.find(method, path) {
        Lookup::Found(op, params) => (op, params),
        Lookup::MethodNotAllowed(_) => panic!("{method} {path}: method not allowed"),
        Lookup::NotFound => panic!("{method} {path}: not found"),
    }
}

fn headers(pairs: &[(&'static str, &str)]) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    for (k, v) in pairs {
        map.append(*k, v.parse().expect("header value"));
    }
    map
}

fn head_violations(
    spec: &Spec,
    method: &str,
    target: &str,
    h: &[(&'static str, &str)],
    has_body: bool,
) -> Vec<String> {
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let (op, params) = find(spec, method, path);
    let headers = headers(h);
    op.check_head(&Head {
        path_params: &params,
        query,
        headers: &headers,
        has_body,
    })
    .iter()
    .map(ToString::to_string)
    .collect()
}

#[test]
fn operations_are_matched_by_method_and_template_under_the_server_path() {
    let s = spec(false);
    assert_eq!(find(&s, "GET", "/v1/orders").0.id, "listOrders");
    assert_eq!(find(&s, "GET", "/v1/orders/latest").0.id, "latestOrder");
    let (op, params) = find(&s, "DELETE", "/v1/orders/42");
    assert_eq!(op.id, "deleteOrder");
    assert_eq!(params, vec![("id".to_owned(), "42".to_owned())]);
    assert_eq!(find(&s, "HEAD", "/v1/orders/42").0.id, "getOrder");
    assert_eq!(
        find(&s, "GET", "/v1/files/ab.json").0.id,
        "GET /files/{name}.json"
    );
    assert!(matches!(s.find("GET", "/orders"), Lookup::NotFound));
    assert!(matches!(s.find("GET", "/v1/orders/42/x"), Lookup::NotFound));
    assert!(matches!(s.find("GET", "/v1/ordersx"), Lookup::NotFound));
    match s.find("PUT", "/v1/orders/42") {
        Lookup::MethodNotAllowed(m) => assert_eq!(m, vec!["GET", "DELETE"]),
        _ => panic!("expected 405"),
    }
}

#[test]
fn parameters_are_typed_and_checked_by_their_schemas() {
    let s = spec(false);
    let ok = [("x-trace", "deadbeef")];
    assert!(
        head_violations(
            &s,
            "GET",
            "/v1/orders?limit=10&status=open&ids=1&ids=2",
            &ok,
            false
        )
        .is_empty()
    );
    assert_eq!(
        head_violations(&s, "GET", "/v1/orders?limit=0", &ok, false),
        ["query.limit: minimum"]
    );
    assert_eq!(
        head_violations(&s, "GET", "/v1/orders?limit=ten", &ok, false),
        ["query.limit: type"]
    );
    assert_eq!(
        head_violations(&s, "GET", "/v1/orders?limit=", &ok, false),
        ["query.limit: type"]
    );
    assert_eq!(
        head_violations(&s, "GET", "/v1/orders?status=lost", &ok, false),
        ["query.status: enum"]
    );
    assert_eq!(
        head_violations(&s, "GET", "/v1/orders?ids=1&ids=x", &ok, false),
        ["query.ids[1]: type"]
    );
    assert_eq!(
        head_violations(&s, "GET", "/v1/orders?limit=1&limit=2", &ok, false),
        ["query.limit: duplicate"]
    );
    assert_eq!(
        head_violations(&s, "GET", "/v1/orders", &[], false),
        ["header.X-Trace: required"]
    );
    assert_eq!(
        head_violations(&s, "GET", "/v1/orders", &[("x-trace", "nothex!!")], false),
        ["header.X-Trace: pattern"]
    );
    assert_eq!(
        head_violations(
            &s,
            "GET",
            "/v1/orders",
            &[
                ("x-trace", "deadbeef"),
                ("cookie", "a=1; session=123456789")
            ],
            false
        ),
        ["cookie.session: maxLength"]
    );
    assert_eq!(
        head_violations(&s, "GET", "/v1/orders/abc", &[], false),
        ["path.id: type"]
    );
    assert_eq!(
        head_violations(&s, "GET", "/v1/orders/99999999999", &[], false),
        ["path.id: maximum"]
    );
    assert_eq!(
        head_violations(&s, "GET", "/v1/files/abcde.json", &[], false),
        ["path.name: maxLength"]
    );
    // Undeclared query parameters pass unless strict.
    assert!(head_violations(&s, "GET", "/v1/orders?debug=1", &ok, false).is_empty());
    assert_eq!(
        head_violations(&spec(true), "GET", "/v1/orders?debug=1", &ok, false),
        ["query.debug: unknown_parameter"]
    );
}

#[test]
fn bodies_must_be_declared_typed_and_present_when_required() {
    let s = spec(false);
    let json = [("content-type", "application/json; charset=utf-8")];
    assert!(head_violations(&s, "POST", "/v1/orders", &json, true).is_empty());
    assert_eq!(
        head_violations(&s, "POST", "/v1/orders", &json, false),
        ["body: required"]
    );
    assert_eq!(
        head_violations(
            &s,
            "POST",
            "/v1/orders",
            &[("content-type", "text/xml")],
            true
        ),
        ["header.Content-Type: content_type"]
    );
    assert_eq!(
        head_violations(&s, "POST", "/v1/orders", &[], true),
        ["header.Content-Type: content_type"]
    );
    assert_eq!(
        head_violations(&s, "DELETE", "/v1/orders/1", &json, true),
        ["body: unexpected"]
    );
}

fn body_violations(s: &Spec, content_type: &str, body: &str) -> Vec<String> {
    let (op, _) = find(s, "POST", "/v1/orders");
    assert!(op.reads_body(Some(content_type)));
    op.check_body(Some(content_type), body.as_bytes())
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn json_bodies_are_checked_against_the_schema() {
    let s = spec(false);
    let ct = "application/json";
    assert!(
        body_violations(
            &s,
            ct,
            r#"{"sku":"abc","qty":2,"note":null,"meta":{"x":1}}"#
        )
        .is_empty()
    );
    assert_eq!(
        body_violations(&s, ct, r#"{"sku":"abc"}"#),
        ["json.$.qty: required"]
    );
    assert_eq!(
        body_violations(&s, ct, r#"{"sku":"abc","qty":"2"}"#),
        ["json.$.qty: type"]
    );
    assert_eq!(
        body_violations(&s, ct, r#"{"sku":"abc","qty":1,"address":{"city":7}}"#),
        ["json.$.address.city: type"]
    );
    assert_eq!(body_violations(&s, ct, r#"{"sku":"#), ["json.$: syntax"]);
    // Not strict: unknown and read-only properties pass.
    assert!(body_violations(&s, ct, r#"{"sku":"abc","qty":1,"role":"admin","id":5}"#).is_empty());
    let strict = spec(true);
    assert_eq!(
        body_violations(&strict, ct, r#"{"sku":"abc","qty":1,"role":"admin"}"#),
        ["json.$.role: unevaluatedProperties"]
    );
    assert_eq!(
        body_violations(
            &strict,
            ct,
            r#"{"sku":"abc","qty":1,"address":{"city":"x","zip":1}}"#
        ),
        ["json.$.address.zip: unevaluatedProperties"]
    );
    let v = body_violations(&strict, ct, r#"{"sku":"abc","qty":1,"id":5}"#);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].starts_with("json.$.id: "), "{v:?}");
    // Free-form objects stay open, even when strict.
    assert!(body_violations(&strict, ct, r#"{"sku":"abc","qty":1,"meta":{"any":1}}"#).is_empty());
}

#[test]
fn json_depth_and_size_are_bounded() {
    let s = Spec::from_slice(
        SPEC.as_bytes(),
        &Options {
            max_json_depth: 4,
            max_json_elements: 20,
            ..Options::default()
        },
    )
    .expect("loads");
    let ct = "application/json";
    let deep = r#"{"sku":"abc","qty":1,"meta":{"a":{"b":{"c":1}}}}"#;
    assert_eq!(body_violations(&s, ct, deep), ["json.$: max_depth"]);
    let items = vec!["1"; 30].join(",");
    let wide = format!(r#"{{"sku":"abc","qty":1,"meta":{{"a":[{items}]}}}}"#);
    assert_eq!(body_violations(&s, ct, &wide), ["json.$: max_elements"]);
    let very_deep = "[".repeat(5000) + &"]".repeat(5000);
    assert_eq!(body_violations(&s, ct, &very_deep), ["json.$: max_depth"]);
}

#[test]
fn urlencoded_forms_are_checked_against_the_schema() {
    let s = spec(false);
    let ct = "application/x-www-form-urlencoded";
    assert!(body_violations(&s, ct, "sku=abc&qty=3").is_empty());
    assert_eq!(body_violations(&s, ct, "qty=3"), ["form.sku: required"]);
    assert_eq!(
        body_violations(&s, ct, "sku=abc&qty=0"),
        ["form.qty: minimum"]
    );
    assert_eq!(
        body_violations(&s, ct, "sku=a&sku=b"),
        ["form.sku: duplicate"]
    );
}

#[test]
fn violations_never_carry_the_value() {
    let s = spec(false);
    let secret = "s3cr3t-value-xyz";
    let v = head_violations(
        &s,
        "GET",
        &format!("/v1/orders?status={secret}&limit={secret}"),
        &[("x-trace", secret)],
        false,
    );
    assert_eq!(v.len(), 3, "{v:?}");
    assert!(v.iter().all(|v| !v.contains(secret)), "{v:?}");
    let b = body_violations(
        &s,
        "application/json",
        &format!(r#"{{"sku":1,"qty":"{secret}"}}"#),
    );
    assert!(
        !b.is_empty() && b.iter().all(|v| !v.contains(secret)),
        "{b:?}"
    );
}

#[test]
fn bad_specs_are_refused_with_a_reason() {
    let o = Options::default();
    let err = |text: &str| {
        Spec::from_slice(text.as_bytes(), &o)
            .expect_err("refused")
            .0
    };
    assert!(err("swagger: '2.0'\npaths: {}\n").contains("Swagger 2.0"));
    assert!(err("openapi: 4.0.0\n").contains("not supported"));
    assert!(err("openapi: 3.0.0\npaths:\n  /a:\n    get:\n      parameters:\n        - {name: x, in: body}\n").contains("paths./a.get"));
    assert!(err("openapi: 3.1.0\npaths:\n  /a:\n    post:\n      requestBody:\n        content:\n          application/json:\n            schema: {$ref: 'https://evil.example/s.json'}\n").contains("not local"));
    assert!(err("openapi: 3.1.0\npaths:\n  /a:\n    post:\n      requestBody:\n        content:\n          application/json:\n            schema: {$ref: '#/components/schemas/Nope'}\n").contains("does not compile"));
    assert!(err("openapi: 3.1.0\npaths:\n  /a/{b:\n    get: {}\n").contains("unbalanced"));
    assert!(err("{\"openapi\": ").contains("JSON"));
    // Patterns run on a linear-time engine: a backtracking-only pattern is refused.
    assert!(err("openapi: 3.1.0\npaths:\n  /a:\n    get:\n      parameters:\n        - {name: q, in: query, schema: {type: string, pattern: '(a+)\\1'}}\n").contains("does not compile"));
}

#[test]
fn openapi_3_1_types_and_base_path_override() {
    let text = r#"{"openapi":"3.1.0","paths":{"/p":{"post":{"requestBody":{"required":true,"content":{"application/json":{"schema":{"type":["string","null"]}}}}}}}}"#;
    let s = Spec::from_slice(
        text.as_bytes(),
        &Options {
            base_path: Some("/api/".into()),
            ..Options::default()
        },
    )
    .expect("loads");
    let (op, _) = find(&s, "POST", "/api/p");
    assert!(op.reads_body(Some("application/json")));
    assert!(op.check_body(Some("application/json"), b"null").is_empty());
    assert_eq!(
        op.check_body(Some("application/json"), b"1")[0].rule,
        "type"
    );
    assert!(!op.reads_body(Some("text/plain")));
}

#[test]
fn responses_are_checked_when_asked_for() {
    let text = r#"
openapi: 3.0.3
paths:
  /users/{id}:
    get:
      responses:
        "200":
          content:
            application/json:
              schema:
                type: object
                required: [id, name]
                properties:
                  id: {type: integer}
                  name: {type: string}
                  password: {type: string, writeOnly: true}
        4XX:
          content:
            application/problem+json:
              schema: {type: object, required: [status]}
        "204":
          description: nothing
"#;
    let s = Spec::from_slice(
        text.as_bytes(),
        &Options {
            responses: true,
            strict: true,
            ..Options::default()
        },
    )
    .expect("loads");
    let (op, _) = find(&s, "GET", "/users/1");
    let check = |status, ct: &str, body: &str| -> Vec<String> {
        op.check_response(status, Some(ct), body.as_bytes())
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    assert!(check(200, "application/json", r#"{"id":1,"name":"a"}"#).is_empty());
    assert_eq!(
        check(200, "application/json", r#"{"id":"1","name":"a"}"#),
        ["json.$.id: type"]
    );
    // Strict: an undocumented field in a response is data the API was not meant to expose.
    assert_eq!(
        check(200, "application/json", r#"{"id":1,"name":"a","ssn":"x"}"#),
        ["json.$.ssn: unevaluatedProperties"]
    );
    assert!(check(404, "application/problem+json", r#"{"status":404}"#).is_empty());
    assert_eq!(check(500, "application/json", "{}"), ["status: undeclared"]);
    assert_eq!(
        check(200, "text/html", "<p>"),
        ["header.Content-Type: content_type"]
    );
    assert_eq!(check(204, "text/plain", "x"), ["body: unexpected"]);
    // Not compiled unless asked for: requests only.
    let lean = Spec::from_slice(text.as_bytes(), &Options::default()).expect("loads");
    let (op, _) = find(&lean, "GET", "/users/1");
    assert_eq!(
        op.check_response(200, Some("application/json"), b"{}")[0].rule,
        "undeclared"
    );
}

#[test]
fn cyclic_composed_schemas_load_without_recursing_forever() {
    let text = r##"{"openapi":"3.0.3","paths":{"/a":{"get":{"parameters":[{"name":"q","in":"query","schema":{"$ref":"#/components/schemas/A"}}]}}},"components":{"schemas":{"A":{"allOf":[{"$ref":"#/components/schemas/A"}]}}}}"##;
    // Loading terminates: either compiled (the parameter read as text) or refused with a
    // reason, never a stack overflow.
    let _ = Spec::from_slice(text.as_bytes(), &Options::default());
}
