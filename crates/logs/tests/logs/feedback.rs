//! Feedback: add, read, update, list by trace, validation.

use portcullis_logs::{Feedback, FeedbackUpdate, LogError, LogStore};
use serde_json::json;

use crate::harness::Ctx;

fn feedback(id: &str, trace: &str, at: i64) -> Feedback {
    Feedback {
        id: id.into(),
        trace_id: trace.into(),
        value: 5,
        weight: 0.5,
        metadata: serde_json::from_value(json!({"source": "ui", "n": 1})).unwrap(),
        workspace_id: Some("ws-a".into()),
        created_at: at,
        updated_at: at,
    }
}

pub async fn feedback_lifecycle(ctx: Ctx) {
    let store = &ctx.store;
    let a = feedback("fb-a", "trace-1", 1_000);
    let b = Feedback {
        workspace_id: None,
        metadata: Default::default(),
        ..feedback("fb-b", "trace-1", 2_000)
    };
    let c = feedback("fb-c", "trace-2", 1_500);
    for f in [&b, &a, &c] {
        store.add_feedback(f).await.unwrap();
    }
    assert_eq!(store.get_feedback("fb-a").await.unwrap(), Some(a.clone()));
    assert_eq!(
        store.feedback_for_trace("trace-1").await.unwrap(),
        vec![a.clone(), b.clone()]
    );
    assert!(store.feedback_for_trace("nope").await.unwrap().is_empty());

    // Duplicates and out-of-range values are refused.
    for bad in [
        a.clone(),
        Feedback {
            value: 11,
            ..feedback("x1", "t", 1)
        },
        Feedback {
            value: -11,
            ..feedback("x2", "t", 1)
        },
        Feedback {
            weight: 1.5,
            ..feedback("x3", "t", 1)
        },
        Feedback {
            weight: f64::NAN,
            ..feedback("x4", "t", 1)
        },
        Feedback {
            id: String::new(),
            ..feedback("", "t", 1)
        },
    ] {
        let r = store.add_feedback(&bad).await;
        assert!(matches!(r, Err(LogError::Invalid(_))), "{bad:?}: {r:?}");
    }

    let updated = store
        .update_feedback(
            "fb-a",
            &FeedbackUpdate {
                value: Some(-10),
                weight: None,
                metadata: Some(serde_json::from_value(json!({"edited": true})).unwrap()),
            },
        )
        .await
        .unwrap()
        .expect("updated");
    assert_eq!(updated.value, -10);
    assert_eq!(updated.weight, 0.5);
    assert_eq!(updated.metadata.get("edited"), Some(&json!(true)));
    assert!(updated.updated_at > a.updated_at);
    assert_eq!(store.get_feedback("fb-a").await.unwrap(), Some(updated));
    assert_eq!(
        store
            .update_feedback("missing", &FeedbackUpdate::default())
            .await
            .unwrap(),
        None
    );
    let r = store
        .update_feedback(
            "fb-a",
            &FeedbackUpdate {
                weight: Some(-0.1),
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(r, Err(LogError::Invalid(_))));
}
