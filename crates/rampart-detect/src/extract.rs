//! Where values come from: the parts of a request the scanners read, each value with the
//! place it was found.
//!
//! Every function here walks its input once, calls `visit` for each value (and each key,
//! flagged as such) and allocates nothing per value: a [`Place`] borrows from the input and
//! is rendered (`query.q`, `json.$.user.name`) only when something is reported.
//! Bodies are read by their declared media type: JSON, urlencoded and multipart forms,
//! XML, and other text as one value. A body under a binary type is read by its look if it is text, skipped otherwise.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// Where a value was found.
#[derive(Debug, Clone, Copy)]
pub enum Place<'a> {
    /// A segment of the path.
    Path,
    /// A query parameter, by its name as sent.
    Query(&'a str),
    Header(&'a str),
    Cookie(&'a str),
    /// A field of an urlencoded or multipart form.
    Form(&'a str),
    /// The file name of a multipart part.
    FormFile(&'a str),
    /// A key or value in a JSON body, by its path from the root.
    Json(&'a [Seg<'a>]),
    /// Text or an attribute value in an XML body.
    Xml,
    /// A whole XML document, read for entity declarations and includes.
    XmlDocument,
    /// A body of another text type, whole.
    Body,
}

/// One step of a JSON path. A key is borrowed from the body unless it had escapes.
#[derive(Debug, Clone)]
pub enum Seg<'a> {
    Key(Cow<'a, str>),
    Index(usize),
}

/// Longest location rendered; past it, `…`.
const MAX_LOCATION: usize = 96;

impl fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        match self {
            Place::Path => out.push_str("path"),
            Place::Query(name) => push_named(&mut out, "query.", name),
            Place::Header(name) => push_named(&mut out, "header.", name),
            Place::Cookie(name) => push_named(&mut out, "cookie.", name),
            Place::Form(name) => push_named(&mut out, "form.", name),
            Place::FormFile(name) => {
                push_named(&mut out, "form.", name);
                out.push_str(".filename");
            }
            Place::Json(path) => {
                out.push_str("json.$");
                for seg in *path {
                    match seg {
                        Seg::Key(k) => push_named(&mut out, ".", k.as_ref()),
                        Seg::Index(i) => out.push_str(&format!("[{i}]")),
                    }
                }
            }
            Place::Xml | Place::XmlDocument => out.push_str("xml"),
            Place::Body => out.push_str("body"),
        }
        if out.chars().count() > MAX_LOCATION {
            out = out.chars().take(MAX_LOCATION).collect();
            out.push('…');
        }
        f.write_str(&out)
    }
}

/// Appends `prefix` and `name` with control characters escaped.
fn push_named(out: &mut String, prefix: &str, name: &str) {
    out.push_str(prefix);
    for c in name.chars().take(MAX_LOCATION) {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
}

/// Query string or urlencoded form pairs: each key (as a key) and each value.
pub fn pairs<'a>(text: &'a str, form: bool, visit: &mut dyn FnMut(Place<'_>, &str, bool)) {
    for pair in text.split('&') {
        if pair.is_empty() {
            continue;
        }
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let place = if form {
            Place::Form(name)
        } else {
            Place::Query(name)
        };
        visit(place, name, true);
        if !value.is_empty() {
            visit(place, value, false);
        }
    }
}

/// The cookies of a `Cookie` header: each name (as a key) and each value.
pub fn cookies(header: &str, visit: &mut dyn FnMut(Place<'_>, &str, bool)) {
    for cookie in header.split(';') {
        let cookie = cookie.trim();
        if cookie.is_empty() {
            continue;
        }
        let (name, value) = cookie.split_once('=').unwrap_or(("", cookie));
        let name = name.trim();
        if !name.is_empty() {
            visit(Place::Cookie(name), name, true);
        }
        if !value.is_empty() {
            visit(Place::Cookie(name), value.trim_matches('"'), false);
        }
    }
}

/// How a body was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Json,
    /// Declared JSON, but not valid JSON: read as text.
    MalformedJson,
    Form,
    Multipart,
    Xml,
    Text,
    /// A binary media type: not read.
    Binary,
}

/// The media type of a `Content-Type` value, lowercased, without parameters.
fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn is_json(essence: &str) -> bool {
    essence == "application/json" || essence.ends_with("+json") || essence == "text/json"
}

fn is_xml(essence: &str) -> bool {
    essence == "application/xml" || essence == "text/xml" || essence.ends_with("+xml")
}

/// Media types whose bodies are not text: images, audio, video, archives, fonts, opaque
/// octets, protobuf and gRPC.
fn is_binary(essence: &str) -> bool {
    ["image/", "audio/", "video/", "font/"]
        .iter()
        .any(|p| essence.starts_with(p))
        || matches!(
            essence,
            "application/octet-stream"
                | "application/pdf"
                | "application/zip"
                | "application/gzip"
                | "application/x-protobuf"
                | "application/protobuf"
                | "application/grpc"
                | "application/wasm"
        )
        || essence.starts_with("application/grpc")
}

/// Reads a body by its declared media type and visits every value in it.
pub fn body(
    content_type: Option<&str>,
    bytes: &[u8],
    visit: &mut dyn FnMut(Place<'_>, &str, bool),
) -> BodyKind {
    let mut essence = content_type.map(essence).unwrap_or_default();
    if is_binary(&essence) {
        // The type is the client's claim: a "binary" body that is text (many frameworks
        // parse JSON whatever the type says) is read by its look.
        if std::str::from_utf8(bytes).is_err() {
            return BodyKind::Binary;
        }
        essence.clear();
    }
    let text = String::from_utf8_lossy(bytes);
    if is_json(&essence) {
        return if json(bytes, visit) {
            BodyKind::Json
        } else {
            visit(Place::Body, &text, false);
            BodyKind::MalformedJson
        };
    }
    if essence == "application/x-www-form-urlencoded" {
        pairs(&text, true, visit);
        return BodyKind::Form;
    }
    if essence == "multipart/form-data"
        && let Some(boundary) = content_type.and_then(boundary)
    {
        multipart(bytes, &boundary, visit);
        return BodyKind::Multipart;
    }
    if is_xml(&essence) {
        xml(&text, visit);
        return BodyKind::Xml;
    }
    // Anything else that is text (text/plain, no type, an unknown type) is one value; an
    // XML or JSON document sent without its type is read as what it looks like.
    let trimmed = text.trim_start();
    if trimmed.starts_with('<') {
        xml(&text, visit);
        return BodyKind::Xml;
    }
    if (trimmed.starts_with('{') || trimmed.starts_with('[')) && json(bytes, visit) {
        return BodyKind::Json;
    }
    visit(Place::Body, &text, false);
    BodyKind::Text
}

/// Every key and string value of the JSON document `bytes` (numbers, booleans and null
/// carry no syntax), in document order, read in one pass without building the document:
/// keys and strings without escapes are borrowed from `bytes`. Duplicate keys are each
/// visited (a parser upstream may keep either). Returns whether `bytes` is one valid JSON
/// document; if not, what came before the error has been visited. serde_json refuses
/// nesting deeper than 128, which bounds the recursion.
pub fn json(bytes: &[u8], visit: &mut dyn FnMut(Place<'_>, &str, bool)) -> bool {
    let mut reader = serde_json::Deserializer::from_slice(bytes);
    let mut path = Vec::new();
    let walk = Walk {
        path: &mut path,
        visit,
    };
    walk.deserialize(&mut reader).is_ok() && reader.end().is_ok()
}

/// The JSON walk: a serde seed that visits strings and keys at their path and keeps
/// nothing.
struct Walk<'p, 'de, 'f> {
    path: &'p mut Vec<Seg<'de>>,
    visit: &'f mut dyn FnMut(Place<'_>, &str, bool),
}

impl<'de> Walk<'_, 'de, '_> {
    fn child(&mut self) -> Walk<'_, 'de, '_> {
        Walk {
            path: &mut *self.path,
            visit: &mut *self.visit,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_, 'de, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_, 'de, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, value: &str) -> Result<(), E> {
        (self.visit)(Place::Json(self.path), value, false);
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut items: A) -> Result<(), A::Error> {
        let mut i = 0;
        loop {
            self.path.push(Seg::Index(i));
            let more = items.next_element_seed(self.child())?;
            self.path.pop();
            if more.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key_seed(Key)? {
            self.path.push(Seg::Key(key));
            if let Some(Seg::Key(key)) = self.path.last() {
                (self.visit)(Place::Json(self.path), key, true);
            }
            let value = map.next_value_seed(self.child());
            self.path.pop();
            value?;
        }
        Ok(())
    }
}

/// An object key, borrowed from the input when it had no escapes.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(key))
    }

    fn visit_str<E>(self, key: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(key.to_owned()))
    }
}

/// The `boundary` parameter of a multipart content type.
fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_owned())
            .filter(|b| !b.is_empty() && b.len() <= 200)
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The parts of a multipart body: each field name (as a key), file name and content. A
/// body that does not parse is read whole, as text.
pub fn multipart(bytes: &[u8], boundary: &str, visit: &mut dyn FnMut(Place<'_>, &str, bool)) {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let Some(first) = find(bytes, delimiter) else {
        visit(Place::Body, &String::from_utf8_lossy(bytes), false);
        return;
    };
    let mut rest = &bytes[first + delimiter.len()..];
    loop {
        // After a delimiter: `--` ends the body, otherwise a line break starts a part.
        if rest.starts_with(b"--") {
            return;
        }
        let Some(head_start) = find(rest, b"\n") else {
            return;
        };
        rest = &rest[head_start + 1..];
        let (head_end, sep) = match (find(rest, b"\r\n\r\n"), find(rest, b"\n\n")) {
            (Some(a), Some(b)) if b < a => (b, 2),
            (Some(a), _) => (a, 4),
            (None, Some(b)) => (b, 2),
            (None, None) => return,
        };
        let head = String::from_utf8_lossy(&rest[..head_end]);
        let content_start = head_end + sep;
        let (content, next) = match find(&rest[content_start..], delimiter) {
            Some(at) => (
                &rest[content_start..content_start + at],
                &rest[content_start + at + delimiter.len()..],
            ),
            None => (&rest[content_start..], &b""[..]),
        };
        let content = content
            .strip_suffix(b"\r\n")
            .or_else(|| content.strip_suffix(b"\n"))
            .unwrap_or(content);
        let (name, filename, part_type) = part_head(&head);
        let name = name.unwrap_or_default();
        visit(Place::Form(&name), &name, true);
        if let Some(filename) = &filename {
            visit(Place::FormFile(&name), filename, false);
        }
        let essence = part_type.as_deref().map(essence).unwrap_or_default();
        if !is_binary(&essence) || std::str::from_utf8(content).is_ok() {
            let text = String::from_utf8_lossy(content);
            if is_json(&essence) && json(content, visit) {
                // Read as JSON; what is not JSON is read as text below.
            } else if is_xml(&essence) {
                xml(&text, visit);
            } else {
                visit(Place::Form(&name), &text, false);
            }
        }
        if next.is_empty() {
            return;
        }
        rest = next;
    }
}

/// The field name, file name and content type of a part's head.
fn part_head(head: &str) -> (Option<String>, Option<String>, Option<String>) {
    let (mut name, mut filename, mut content_type) = (None, None, None);
    for line in head.lines() {
        let Some((field, value)) = line.split_once(':') else {
            continue;
        };
        let field = field.trim();
        if field.eq_ignore_ascii_case("content-type") {
            content_type = Some(value.trim().to_owned());
        } else if field.eq_ignore_ascii_case("content-disposition") {
            for param in value.split(';').skip(1) {
                let Some((k, v)) = param.split_once('=') else {
                    continue;
                };
                let v = v.trim().trim_matches('"').to_owned();
                match k.trim().to_ascii_lowercase().as_str() {
                    "name" => name = Some(v),
                    "filename" | "filename*" => filename = Some(v),
                    _ => {}
                }
            }
        }
    }
    (name, filename, content_type)
}

/// An XML document: whole (for entity declarations and includes), then each text node,
/// CDATA section and attribute value.
pub fn xml(doc: &str, visit: &mut dyn FnMut(Place<'_>, &str, bool)) {
    visit(Place::XmlDocument, doc, false);
    let mut rest = doc;
    while let Some(open) = rest.find('<') {
        let text = &rest[..open];
        if !text.trim().is_empty() {
            visit(Place::Xml, text, false);
        }
        rest = &rest[open..];
        let (inner, after) = if let Some(cdata) = rest.strip_prefix("<![CDATA[") {
            let end = cdata.find("]]>").unwrap_or(cdata.len());
            visit(Place::Xml, &cdata[..end], false);
            ("", cdata.get(end + 3..).unwrap_or(""))
        } else if let Some(comment) = rest.strip_prefix("<!--") {
            let end = comment.find("-->").unwrap_or(comment.len());
            ("", comment.get(end + 3..).unwrap_or(""))
        } else {
            let end = rest.find('>').unwrap_or(rest.len());
            (&rest[1..end], rest.get(end + 1..).unwrap_or(""))
        };
        attribute_values(inner, visit);
        rest = after;
    }
    if !rest.trim().is_empty() {
        visit(Place::Xml, rest, false);
    }
}

/// The quoted attribute values inside a tag.
fn attribute_values(tag: &str, visit: &mut dyn FnMut(Place<'_>, &str, bool)) {
    let mut rest = tag;
    while let Some(q) = rest.find(['"', '\'']) {
        let quote = rest.as_bytes()[q] as char;
        let value = &rest[q + 1..];
        let end = value.find(quote).unwrap_or(value.len());
        if !value[..end].is_empty() {
            visit(Place::Xml, &value[..end], false);
        }
        rest = value.get(end + 1..).unwrap_or("");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(
        f: impl FnOnce(&mut dyn FnMut(Place<'_>, &str, bool)),
    ) -> Vec<(String, String, bool)> {
        let mut out = Vec::new();
        f(&mut |place, value, key| out.push((place.to_string(), value.to_owned(), key)));
        out
    }

    #[test]
    fn query_pairs_name_their_place() {
        let seen = collect(|v| pairs("q=a%27b&flag&x[$ne]=1&&=z", false, v));
        assert_eq!(
            seen,
            vec![
                ("query.q".into(), "q".into(), true),
                ("query.q".into(), "a%27b".into(), false),
                ("query.flag".into(), "flag".into(), true),
                ("query.x[$ne]".into(), "x[$ne]".into(), true),
                ("query.x[$ne]".into(), "1".into(), false),
                ("query.".into(), "".into(), true),
                ("query.".into(), "z".into(), false),
            ]
        );
    }

    #[test]
    fn json_keys_and_strings_with_their_paths() {
        let seen = collect(|v| {
            body(
                Some("application/json; charset=utf-8"),
                br#"{"user":{"name":"x","tags":["a",1,{"$ne":null}]},"n":5}"#,
                v,
            );
        });
        let places: Vec<_> = seen
            .iter()
            .map(|(p, v, k)| format!("{p}={v}{}", if *k { "(key)" } else { "" }))
            .collect();
        assert_eq!(
            places,
            vec![
                "json.$.user=user(key)",
                "json.$.user.name=name(key)",
                "json.$.user.name=x",
                "json.$.user.tags=tags(key)",
                "json.$.user.tags[0]=a",
                "json.$.user.tags[2].$ne=$ne(key)",
                "json.$.n=n(key)",
            ]
        );
    }

    #[test]
    fn malformed_json_is_read_as_text() {
        let mut kind = BodyKind::Binary;
        let seen = collect(|v| kind = body(Some("application/json"), b"{\"a\": ' or 1=1", v));
        assert_eq!(kind, BodyKind::MalformedJson);
        // What parsed before the error was read as JSON, then the whole body as text.
        assert_eq!(
            seen,
            vec![
                ("json.$.a".into(), "a".into(), true),
                ("body".into(), "{\"a\": ' or 1=1".into(), false)
            ]
        );
    }

    #[test]
    fn multipart_fields_files_and_nested_json() {
        let body_bytes = b"--XyZ\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nhello\r\n--XyZ\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"../../etc/passwd\"\r\nContent-Type: text/plain\r\n\r\nline1\nline2\r\n--XyZ\r\nContent-Disposition: form-data; name=\"meta\"\r\nContent-Type: application/json\r\n\r\n{\"k\":\"v\"}\r\n--XyZ\r\nContent-Disposition: form-data; name=\"img\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG<script>\r\n--XyZ--\r\n";
        let seen = collect(|v| {
            body(Some("multipart/form-data; boundary=\"XyZ\""), body_bytes, v);
        });
        let values: Vec<_> = seen.iter().map(|(p, v, _)| format!("{p}={v}")).collect();
        assert_eq!(
            values,
            vec![
                "form.title=title",
                "form.title=hello",
                "form.doc=doc",
                "form.doc.filename=../../etc/passwd",
                "form.doc=line1\nline2",
                "form.meta=meta",
                "json.$.k=k",
                "json.$.k=v",
                "form.img=img",
                "form.img.filename=a.png",
            ]
        );
    }

    #[test]
    fn xml_text_cdata_and_attributes() {
        let doc = "<?xml version=\"1.0\"?><a x='1'><b>t&lt;x</b><![CDATA[<script>]]><!-- c --></a>";
        let seen = collect(|v| xml(doc, v));
        let values: Vec<_> = seen.iter().map(|(_, v, _)| v.as_str()).collect();
        assert_eq!(values, vec![doc, "1.0", "1", "t&lt;x", "<script>"]);
    }

    #[test]
    fn untyped_bodies_are_read_by_their_look_and_binary_ones_not_at_all() {
        let mut kind = BodyKind::Binary;
        collect(|v| kind = body(None, b"{\"a\":\"b\"}", v));
        assert_eq!(kind, BodyKind::Json);
        collect(|v| kind = body(Some("text/plain"), b"<x>y</x>", v));
        assert_eq!(kind, BodyKind::Xml);
        let seen = collect(|v| kind = body(Some("image/png"), b"\x89PNG<script>", v));
        assert_eq!((kind, seen.len()), (BodyKind::Binary, 0));
        // A text body under a binary type is read by its look.
        let seen = collect(|v| kind = body(Some("image/png"), b"{\"a\":\"<script>\"}", v));
        assert_eq!(kind, BodyKind::Json);
        assert!(seen.iter().any(|(_, v, _)| v == "<script>"));
    }

    #[test]
    fn locations_are_bounded_and_printable() {
        let name = "a\u{1b}b".repeat(100);
        let shown = Place::Query(&name).to_string();
        assert!(shown.starts_with("query.a\\u{1b}b"));
        assert!(shown.chars().count() <= MAX_LOCATION + 1);
    }
}
