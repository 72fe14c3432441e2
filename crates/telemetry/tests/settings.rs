//! Telemetry settings as the configuration file spells them.

use portcullis_telemetry::{OtlpSettings, TelemetrySettings};
use serde_json::json;

#[test]
fn defaults() {
    let s: TelemetrySettings = serde_json::from_value(json!({})).unwrap();
    assert_eq!(s, TelemetrySettings::default());
    assert!(s.metrics);
    assert!(s.otlp.is_none());

    let s: TelemetrySettings =
        serde_json::from_value(json!({"otlp": {"endpoint": "http://collector:4318/v1/traces"}}))
            .unwrap();
    let o = s.otlp.unwrap();
    assert_eq!(o, OtlpSettings::new("http://collector:4318/v1/traces"));
    assert_eq!(o.service_name, "portcullis");
    assert_eq!(o.timeout_ms, 10_000);
    assert!(o.headers.is_empty());
    assert!(o.validate().is_ok());
}

#[test]
fn full_settings_round_trip() {
    let v = json!({
        "metrics": false,
        "otlp": {
            "endpoint": "https://otel.example:4318/v1/traces",
            "headers": {"x-api-key": "k", "x-tenant": "t"},
            "service_name": "gw-eu",
            "timeout_ms": 2500
        }
    });
    let s: TelemetrySettings = serde_json::from_value(v.clone()).unwrap();
    assert!(!s.metrics);
    let o = s.otlp.as_ref().unwrap();
    assert_eq!(o.headers["x-api-key"], "k");
    assert_eq!(o.service_name, "gw-eu");
    assert_eq!(o.timeout().as_millis(), 2500);
    assert_eq!(serde_json::to_value(&s).unwrap(), v);
}

#[test]
fn unknown_fields_are_rejected() {
    assert!(serde_json::from_value::<TelemetrySettings>(json!({"metric": true})).is_err());
    assert!(
        serde_json::from_value::<TelemetrySettings>(json!({
            "otlp": {"endpoint": "http://c:4318", "protocol": "grpc"}
        }))
        .is_err()
    );
    // The endpoint is required once `otlp` is there.
    assert!(serde_json::from_value::<TelemetrySettings>(json!({"otlp": {}})).is_err());
}
