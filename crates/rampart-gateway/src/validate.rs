//! The OpenAPI stage: requests checked against the route's spec before injection detection
//! and before the upstream.
//!
//! Specs are read and compiled when a config generation is built (so `rampart check` and a
//! reload report a broken spec, and a reload with one keeps the running generation); routes
//! that name the same file with the same options share one compiled spec.

use std::sync::Arc;

use rampart_config::{Config, Diagnostic, OpenApi, ResponseValidation, UnknownOperations};
use rampart_openapi::{Options, Spec};

/// One route's validation.
#[derive(Debug)]
pub struct Validation {
    pub spec: Arc<Spec>,
    pub unknown_operations: UnknownOperations,
    pub responses: ResponseValidation,
}

fn options(o: &OpenApi) -> Options {
    Options {
        strict: o.strict,
        base_path: o.base_path.clone(),
        max_json_depth: o.max_json_depth,
        max_json_elements: o.max_json_elements,
        responses: o.responses == ResponseValidation::LogOnly,
    }
}

/// Every route's validation, by route index; a spec that does not load is an error keyed
/// by the first route that uses it.
pub fn build(config: &Config) -> Result<Vec<Option<Arc<Validation>>>, Vec<Diagnostic>> {
    let mut compiled: Vec<(std::path::PathBuf, Options, Arc<Spec>)> = Vec::new();
    let mut errors = Vec::new();
    let mut out = Vec::with_capacity(config.routes.len());
    for (i, route) in config.routes.iter().enumerate() {
        let Some(o) = &route.openapi else {
            out.push(None);
            continue;
        };
        let opts = options(o);
        let known = compiled
            .iter()
            .find(|(p, q, _)| *p == o.spec && *q == opts)
            .map(|(_, _, s)| Arc::clone(s));
        let spec = match known {
            Some(spec) => spec,
            None => match Spec::load(&o.spec, &opts) {
                Ok(spec) => {
                    let spec = Arc::new(spec);
                    compiled.push((o.spec.clone(), opts, Arc::clone(&spec)));
                    spec
                }
                Err(e) => {
                    errors.push(Diagnostic::new(
                        format!("routes[{i}].openapi"),
                        format!("{}: {e}", o.spec.display()),
                    ));
                    out.push(None);
                    continue;
                }
            },
        };
        out.push(Some(Arc::new(Validation {
            spec,
            unknown_operations: o.unknown_operations,
            responses: o.responses,
        })));
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}
