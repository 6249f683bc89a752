//! Routing: method and path template -> route, deny by default.
//!
//! Templates are matched by `matchit` (a radix tree; `{name}` is one segment, a final
//! `{*name}` the rest). Several routes may share a template with different methods. A path
//! that matches no template is a 404; a template that matches but not for this method is a
//! 405 with `Allow`. Matching runs on the normalized path only (see `rampart_http::normalize`).

use std::sync::Arc;

use http::{HeaderValue, Method};
use rampart_config::{Config, Diagnostic};

use crate::auth::RouteAuth;
use crate::cors::CorsPolicy;
use crate::proxy::Upstream;

/// A route as the pipeline uses it.
#[derive(Debug)]
pub struct Route {
    pub name: Arc<str>,
    pub metrics: Arc<crate::metrics::RouteMetrics>,
    pub upstream: Arc<Upstream>,
    pub pass_upstream_errors: bool,
    pub cors: Option<CorsPolicy>,
    pub auth: RouteAuth,
    pub limits: crate::ratelimit::RouteLimits,
    /// How requests are inspected for attacks (see [`crate::inspect`]).
    pub injection: rampart_config::Injection,
    /// The spec requests are validated against (see [`crate::validate`]).
    pub openapi: Option<Arc<crate::validate::Validation>>,
    /// What is done with responses that leak internals (see [`crate::leaks`]).
    pub leaks: rampart_config::LeakDetection,
}

#[derive(Debug)]
struct Group {
    /// (methods, route); empty methods means any.
    routes: Vec<(Vec<Method>, Arc<Route>)>,
    allow: HeaderValue,
}

#[derive(Debug)]
pub struct Router {
    tree: matchit::Router<usize>,
    groups: Vec<Group>,
}

pub enum Match<'a> {
    /// The route, and the value of the path parameter its owner rule names, if it has one.
    Found(&'a Arc<Route>, Option<String>),
    /// The path exists, the method does not; the value is for `Allow`.
    MethodNotAllowed(&'a HeaderValue, Option<&'a Arc<Route>>),
    NotFound,
}

impl Router {
    pub fn build(
        config: &Config,
        upstreams: &[Arc<Upstream>],
        mut checks: impl FnMut(
            usize,
            &rampart_config::Route,
        ) -> (
            RouteAuth,
            crate::ratelimit::RouteLimits,
            Option<Arc<crate::validate::Validation>>,
        ),
    ) -> Result<Router, Vec<Diagnostic>> {
        let mut tree = matchit::Router::new();
        let mut groups: Vec<Group> = Vec::new();
        let mut templates: Vec<&str> = Vec::new();
        let mut errors = Vec::new();
        for (i, route) in config.routes.iter().enumerate() {
            let methods: Vec<Method> = route
                .methods
                .iter()
                .filter_map(|m| Method::from_bytes(m.as_bytes()).ok())
                .collect();
            let (auth, limits, openapi) = checks(i, route);
            let runtime = Arc::new(Route {
                name: Arc::from(route.name.as_str()),
                metrics: Arc::new(crate::metrics::RouteMetrics::new(&route.name)),
                upstream: Arc::clone(&upstreams[route.upstream]),
                pass_upstream_errors: route.pass_upstream_errors,
                cors: route.cors.as_ref().map(CorsPolicy::new),
                auth,
                limits,
                injection: route.injection.clone(),
                openapi,
                leaks: route.leak_detection,
            });
            let group = match templates.iter().position(|t| *t == route.path) {
                Some(g) => g,
                None => {
                    if let Err(e) = tree.insert(route.path.as_str(), groups.len()) {
                        errors.push(Diagnostic::new(
                            format!("routes[{i}].path"),
                            format!("conflicts with another route: {e}"),
                        ));
                        continue;
                    }
                    templates.push(&route.path);
                    groups.push(Group {
                        routes: Vec::new(),
                        allow: HeaderValue::from_static(""),
                    });
                    groups.len() - 1
                }
            };
            let overlaps = groups[group].routes.iter().any(|(existing, _)| {
                existing.is_empty()
                    || methods.is_empty()
                    || existing.iter().any(|m| methods.contains(m))
            });
            if overlaps {
                errors.push(Diagnostic::new(
                    format!("routes[{i}].methods"),
                    format!(
                        "another route already serves {} for these methods",
                        route.path
                    ),
                ));
                continue;
            }
            groups[group].routes.push((methods, runtime));
        }
        for group in &mut groups {
            group.allow = allow_header(&group.routes);
        }
        if errors.is_empty() {
            Ok(Router { tree, groups })
        } else {
            Err(errors)
        }
    }

    pub fn route(&self, method: &Method, path: &str) -> Match<'_> {
        let Ok(found) = self.tree.at(path) else {
            return Match::NotFound;
        };
        let group = &self.groups[*found.value];
        for (methods, route) in &group.routes {
            if methods.is_empty()
                || methods.contains(method)
                || (*method == Method::HEAD && methods.contains(&Method::GET))
            {
                let owner = route
                    .auth
                    .owner_param()
                    .and_then(|name| found.params.get(name))
                    .map(str::to_owned);
                return Match::Found(route, owner);
            }
        }
        // A CORS preflight is answered by the first route of the path that has a policy.
        let cors_route = group
            .routes
            .iter()
            .map(|(_, r)| r)
            .find(|r| r.cors.is_some());
        Match::MethodNotAllowed(&group.allow, cors_route)
    }
}

fn allow_header(routes: &[(Vec<Method>, Arc<Route>)]) -> HeaderValue {
    let mut names: Vec<&str> = Vec::new();
    for (methods, _) in routes {
        for m in methods {
            if !names.contains(&m.as_str()) {
                names.push(m.as_str());
            }
        }
        if methods.contains(&Method::GET) && !names.contains(&"HEAD") {
            names.push("HEAD");
        }
    }
    // Tokens joined by ", " are always a valid header value.
    HeaderValue::from_str(&names.join(", ")).unwrap_or(HeaderValue::from_static(""))
}
