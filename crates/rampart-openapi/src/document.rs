//! Reading a spec file into JSON: JSON as is, YAML through `serde_yaml_ng` (libyaml's
//! grammar, as lenient as the tools specs are written with).
//!
//! Budgets hold on both: file size, nesting depth, node count (aliases copy nodes; the YAML
//! reader stops runaway "billion laughs" expansion by itself and the conversion counts
//! what is left). Mapping keys are text (`200:` is the key `"200"`), as OpenAPI means them.

use serde_json::{Map, Number, Value};

/// The largest spec file read.
pub const MAX_BYTES: usize = 16 << 20;
/// The deepest nesting of mappings and sequences.
pub const MAX_DEPTH: usize = 64;
/// The most nodes a document may expand to, aliases included.
pub const MAX_NODES: usize = 2_000_000;

/// Parses a spec: JSON when it starts with `{`, YAML otherwise.
pub fn parse(bytes: &[u8]) -> Result<Value, String> {
    if bytes.len() > MAX_BYTES {
        return Err(format!("is larger than {} MiB", MAX_BYTES >> 20));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| format!("is not UTF-8 ({e})"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim_start().starts_with('{') {
        let value: Value =
            serde_json::from_str(text).map_err(|e| format!("is not valid JSON: {e}"))?;
        if depth(&value) > MAX_DEPTH {
            return Err(format!("nests deeper than {MAX_DEPTH} levels"));
        }
        return Ok(value);
    }
    yaml(text)
}

/// The nesting depth of a JSON value, without recursion.
pub fn depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 1)];
    while let Some((v, d)) = stack.pop() {
        deepest = deepest.max(d);
        match v {
            Value::Array(items) => stack.extend(items.iter().map(|i| (i, d + 1))),
            Value::Object(map) => stack.extend(map.values().map(|i| (i, d + 1))),
            _ => {}
        }
    }
    deepest
}

/// Reads YAML (1.2 core schema) through `serde_yaml_ng`, whose own limits stop runaway
/// aliases ("repetition limit") and nesting (128 levels), then converts it under ours.
fn yaml(text: &str) -> Result<Value, String> {
    let value: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(text).map_err(|e| format!("is not valid YAML: {e}"))?;
    let mut nodes = 0;
    let value = convert(value, 1, &mut nodes)?;
    if value.is_null() {
        return Err("is empty".into());
    }
    Ok(value)
}

fn convert(value: serde_yaml_ng::Value, depth: usize, nodes: &mut usize) -> Result<Value, String> {
    use serde_yaml_ng::Value as Y;
    if depth > MAX_DEPTH {
        return Err(format!("nests deeper than {MAX_DEPTH} levels"));
    }
    *nodes += 1;
    if *nodes > MAX_NODES {
        return Err(format!(
            "expands to more than {MAX_NODES} nodes (aliases included)"
        ));
    }
    Ok(match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => number(&n),
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(
            items
                .into_iter()
                .map(|v| convert(v, depth + 1, nodes))
                .collect::<Result<_, _>>()?,
        ),
        Y::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                // OpenAPI keys are text: `200:` is the status "200".
                let key = match k {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    Y::Null => "null".to_owned(),
                    _ => return Err("has a mapping key that is not a scalar".into()),
                };
                out.insert(key, convert(v, depth + 1, nodes)?);
            }
            Value::Object(out)
        }
        // `!tag value`: the value, as written.
        Y::Tagged(tagged) => convert(tagged.value, depth, nodes)?,
    })
}

fn number(n: &serde_yaml_ng::Number) -> Value {
    if let Some(i) = n.as_i64() {
        Value::Number(i.into())
    } else if let Some(u) = n.as_u64() {
        Value::Number(u.into())
    } else {
        n.as_f64()
            .and_then(Number::from_f64)
            .map_or_else(|| Value::String(n.to_string()), Value::Number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_reads_as_openapi_means_it() {
        let doc = parse(
            b"openapi: 3.0.3\npaths:\n  /pets/{id}:\n    get:\n      responses:\n        200:\n          description: ok\n      x-n: 1.5\n      x-q: '12'\n      x-list: [a, 2, null, true]\n",
        )
        .expect("parses");
        assert_eq!(doc["openapi"], "3.0.3");
        let get = &doc["paths"]["/pets/{id}"]["get"];
        assert_eq!(get["responses"]["200"]["description"], "ok");
        assert_eq!(get["x-n"], 1.5);
        assert_eq!(get["x-q"], "12");
        assert_eq!(get["x-list"], serde_json::json!(["a", 2, null, true]));
    }

    #[test]
    fn anchors_and_aliases_copy_nodes() {
        let doc = parse(b"a: &x {type: string}\nb: *x\n").expect("parses");
        assert_eq!(doc["b"]["type"], "string");
    }

    #[test]
    fn budgets_stop_hostile_documents() {
        // Billion laughs: each level doubles ten times over.
        let mut laughs = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (prev, name) in ["a", "b", "c", "d", "e", "f", "g", "h"]
            .iter()
            .zip(["b", "c", "d", "e", "f", "g", "h", "i"])
        {
            let refs = vec![format!("*{prev}"); 10].join(", ");
            laughs.push_str(&format!("{name}: &{name} [{refs}]\n"));
        }
        let e = parse(laughs.as_bytes()).expect_err("refused");
        assert!(e.contains("nodes") || e.contains("repetition limit"), "{e}");
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        // Refused by the reader's own recursion limit (128) before ours (64) is reached.
        let e = parse(deep.as_bytes()).expect_err("refused");
        assert!(e.contains("deeper") || e.contains("recursion limit"), "{e}");
        let deep = "a:\n".to_owned()
            + &(1..80)
                .map(|i| format!("{}b:\n", " ".repeat(i)))
                .collect::<String>();
        let e = parse(deep.as_bytes()).expect_err("refused");
        assert!(e.contains("deeper"), "{e}");
        let deep_json = "{\"a\":".repeat(100) + "1" + &"}".repeat(100);
        assert!(parse(deep_json.as_bytes()).is_err());
        assert!(parse(b"? [a]\n: b\n").is_err());
        assert!(parse(b"a: *nope\n").is_err());
        assert!(parse(b"").is_err());
        assert!(parse(b"\xff\xfe").is_err());
    }
}
