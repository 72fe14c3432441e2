//! `GET /v1/admin/openapi.json`: an OpenAPI 3.1 document generated from the route table.

use axum::Json;
use serde_json::{Map, Value, json};

mod portkey_schemas;
mod schemas;

use schemas::{r, s, schemas};

use super::{ROUTES, Reply};
use crate::auth::Caller;

pub async fn serve(_caller: Caller) -> Reply {
    Ok(Json(document()))
}

fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}

fn error_responses() -> Value {
    let e = json!({ "content": { "application/json": { "schema": r("Error") } } });
    let with = |d: &str| {
        let mut v = e.clone();
        v["description"] = json!(d);
        v
    };
    json!({
        "400": with("Request validation error (AB01); the message names the field"),
        "401": with("Missing, invalid or expired API key (AB05)"),
        "403": with("The key lacks the scope (AB03)"),
        "404": with("Not found, or outside the key's workspace (AB08)"),
        "409": with("Already exists (AB07)"),
        "413": with("Body over 1 MiB"),
        "500": with("Internal error (AB04); carries x-portkey-request-id"),
    })
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for route in ROUTES {
        let mut params: Vec<Value> = path_params(route.path)
            .into_iter()
            .map(|p| json!({ "name": p, "in": "path", "required": true, "schema": s() }))
            .collect();
        params.extend(
            route
                .query
                .iter()
                .map(|q| json!({ "name": q, "in": "query", "required": false, "schema": s() })),
        );
        let mut responses = error_responses();
        responses["200"] = json!({
            "description": "OK",
            "content": { "application/json": { "schema": r(route.response) } },
        });
        let mut op = json!({
            "operationId": route.op,
            "summary": route.summary,
            "tags": [route.tag],
            "parameters": params,
            "responses": responses,
            "x-portkey-scope": route.scope,
        });
        if let Some(req) = route.request {
            op["requestBody"] = json!({
                "required": false,
                "content": { "application/json": { "schema": r(req) } },
            });
        }
        let entry = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| json!({}));
        entry[route.method.as_str()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Portcullis admin API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Portkey-compatible control plane: the paths, JSON shapes, scopes and errors the portkey-ai SDKs use.",
        },
        "servers": [{ "url": "/" }],
        "security": [{ "portkeyApiKey": [] }, { "bearer": [] }],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "portkeyApiKey": { "type": "apiKey", "in": "header", "name": "x-portkey-api-key" },
                "bearer": { "type": "http", "scheme": "bearer" },
            },
            "schemas": schemas(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.trim_start_matches("#/components/schemas/").to_owned());
                }
                m.values().for_each(|v| refs(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_route_is_documented_with_resolvable_schemas() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        for route in ROUTES {
            let op = &doc["paths"][route.path][route.method.as_str()];
            assert_eq!(
                op["operationId"],
                route.op,
                "{} {}",
                route.method.as_str(),
                route.path
            );
            for p in path_params(route.path) {
                assert!(
                    op["parameters"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|x| x["name"] == p)
                );
            }
        }
        let mut all = Vec::new();
        refs(&doc, &mut all);
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for r in all {
            assert!(schemas.contains_key(&r), "missing schema {r}");
        }
        let ops: std::collections::HashSet<_> = ROUTES.iter().map(|r| r.op).collect();
        assert_eq!(ops.len(), ROUTES.len(), "operation ids are unique");
    }
}
