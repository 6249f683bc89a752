//! Session fixation: a session identifier planted through the request instead of the
//! cookie the server set. A link carrying `?PHPSESSID=...` or `;jsessionid=...`, or a form
//! posting one, makes the victim's browser use a session the attacker already knows; after
//! the victim logs in, the attacker shares the session. Cookies carry session ids by
//! design, so these rules read parameter names only, never the `Cookie` header.
//!
//! The names are the session cookies of common frameworks; at level 2 any parameter named
//! like a session id (`sessionid`, `zend_session_id`, `weblogicsession`), and a framework's
//! name as a JSON key, count too. A value that writes a cookie from script or markup
//! (`document.cookie='sid=x;expires=...'`, `<meta http-equiv="Set-Cookie">`) is the same
//! attack through an injection.

use crate::extract::Place;
use crate::sql::Hit;

/// Session cookie names of web frameworks, lower case, after a `__Secure-` or `__Host-`
/// prefix is taken off.
const FRAMEWORK_NAMES: &[&str] = &[
    "phpsessid",
    "jsessionid",
    "asp.net_sessionid",
    "connect.sid",
    "sails.sid",
    "laravel_session",
    "rack.session",
    "play_session",
    "ci_session",
    "cakephp",
    "koa.sess",
    "koa:sess",
    "cfid",
    "cftoken",
    "next-auth.session-token",
    "authjs.session-token",
    "meteor_login_token",
    "_session_id",
    "symfony",
    "jservsession",
    "jwsession",
];

/// Whether `name` is a framework's session cookie name: one of [`FRAMEWORK_NAMES`],
/// classic ASP's `ASPSESSIONID` followed by its random letters, or Rails' `_app_session`.
fn framework_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let bare = lower
        .strip_prefix("__secure-")
        .or_else(|| lower.strip_prefix("__host-"))
        .unwrap_or(&lower);
    FRAMEWORK_NAMES.contains(&bare)
        || bare.starts_with("aspsessionid")
        || bare
            .strip_prefix('_')
            .and_then(|b| b.strip_suffix("_session"))
            .is_some_and(|app| {
                !app.is_empty() && app.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            })
}

/// Whether `name`, without its punctuation, ends like a session id (`sessionid`,
/// `session-id`, `zend_session_id`, `sessid`, `session_token`), or it is a word and
/// `session` (`user_session`, `app.session`).
fn generic_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let letters: String = lower
        .bytes()
        .filter(u8::is_ascii_alphanumeric)
        .map(char::from)
        .collect();
    ["sessionid", "sessid", "sessiontoken", "sesskey"]
        .iter()
        .any(|end| letters.ends_with(end))
        || ['_', '.', '-', ':'].iter().any(|sep| {
            lower
                .strip_suffix("session")
                .and_then(|word| word.strip_suffix(*sep))
                .is_some_and(|word| !word.is_empty())
        })
}

/// A key (parameter, form field or JSON key) at `place` that carries a session id.
pub fn key(name: &str, place: &Place<'_>) -> Vec<Hit> {
    let mut hits = Vec::new();
    let in_url_or_form = matches!(place, Place::Query(_) | Place::Form(_));
    if !in_url_or_form && !matches!(place, Place::Json(_)) {
        return hits;
    }
    if framework_name(name) {
        let rule = if in_url_or_form {
            "session.fixation"
        } else {
            "session.id_in_json"
        };
        hits.push(Hit { rule, score: 5 });
    } else if in_url_or_form && generic_name(name) {
        hits.push(Hit {
            rule: "session.id_parameter",
            score: 5,
        });
    }
    hits
}

/// A path segment with a session id as a path parameter: `/login;jsessionid=...`.
pub fn path(segment: &str) -> Vec<Hit> {
    let mut hits = Vec::new();
    for parameter in segment.split(';').skip(1) {
        let name = parameter.split('=').next().unwrap_or("");
        if framework_name(name) {
            hits.push(Hit {
                rule: "session.fixation",
                score: 5,
            });
            break;
        }
    }
    hits
}

/// A value that sets a cookie from script (`.cookie = "...; expires=..."`) or markup
/// (`http-equiv="set-cookie"`). `lower` is the value in lower case.
pub fn cookie_write(lower: &str) -> Vec<Hit> {
    let mut hits = Vec::new();
    let script = lower.match_indices(".cookie").any(|(at, _)| {
        let after = &lower[at + ".cookie".len()..];
        let boundary = !after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
        boundary
            && after.find(';').is_some_and(|semi| {
                let attributes =
                    after[semi + 1..].trim_start_matches(|c: char| !c.is_ascii_alphabetic());
                ["expires", "domain", "path", "max-age"].iter().any(|a| {
                    attributes.starts_with(a) && attributes[a.len()..].trim_start().starts_with('=')
                })
            })
    });
    let markup = lower.match_indices("http-equiv").any(|(at, _)| {
        let after = &lower[at + "http-equiv".len()..];
        let after = after.trim_start_matches(|c: char| !c.is_ascii_alphanumeric());
        after.starts_with("set-cookie")
    });
    if script || markup {
        hits.push(Hit {
            rule: "session.cookie_write",
            score: 5,
        });
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::Seg;

    fn rules(hits: Vec<Hit>) -> Vec<&'static str> {
        hits.into_iter().map(|h| h.rule).collect()
    }

    #[test]
    fn framework_session_names_in_parameters_are_fixation() {
        for name in [
            "PHPSESSID",
            "jsessionid",
            "ASP.NET_SessionId",
            "ASPSESSIONIDQQGGGNCU",
            "connect.sid",
            "__Secure-next-auth.session-token",
            "_myshop_session",
            "koa:sess",
        ] {
            assert_eq!(
                rules(key(name, &Place::Query(name))),
                ["session.fixation"],
                "{name}"
            );
            assert_eq!(rules(key(name, &Place::Form(name))), ["session.fixation"]);
        }
        assert_eq!(
            rules(path("login.do;jsessionid=74B0CB41")),
            ["session.fixation"]
        );
        assert!(path("items;color=red").is_empty());
    }

    #[test]
    fn cookies_carry_session_ids_by_design() {
        assert!(key("PHPSESSID", &Place::Cookie("PHPSESSID")).is_empty());
        assert!(key("sessionid", &Place::Header("x-session")).is_empty());
    }

    #[test]
    fn generic_names_and_json_keys_are_their_own_rules() {
        for name in ["sessionid", "session-id", "zend_session_id", "user_session"] {
            assert_eq!(
                rules(key(name, &Place::Query(name))),
                ["session.id_parameter"],
                "{name}"
            );
        }
        let path = [Seg::Key("jsessionid".into())];
        assert_eq!(
            rules(key("jsessionid", &Place::Json(&path))),
            ["session.id_in_json"]
        );
        // A JSON API's own session fields are not a framework's cookie.
        let path = [Seg::Key("session_id".into())];
        assert!(key("session_id", &Place::Json(&path)).is_empty());
        for name in ["session", "sessions", "obsession", "user", "sid"] {
            assert!(key(name, &Place::Query(name)).is_empty(), "{name}");
        }
    }

    #[test]
    fn cookies_written_from_script_or_markup() {
        for value in [
            "document.cookie='sid=1;expires=Thu, 01 Jan 2099'",
            "x.cookie;expires=",
            "<meta http-equiv=\"Set-Cookie\" content=\"sid=1\">",
        ] {
            assert_eq!(
                rules(cookie_write(&value.to_ascii_lowercase())),
                ["session.cookie_write"],
                "{value}"
            );
        }
        for value in [
            "we use a cookie; it expires soon",
            "fortune.cookies; path=/",
            "http-equiv=refresh",
        ] {
            assert!(cookie_write(value).is_empty(), "{value}");
        }
    }
}
