//! Budget alerts: each crossing (alert threshold reached, budget exhausted) is recorded in the
//! audit log, posted to the configured webhook and, when SMTP is configured, emailed — once per
//! crossing, off the request path, through a bounded queue.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use portcullis_control::model::AuditEvent;
use portcullis_control::repo::Repository;
use portcullis_core::limits::{NANOS_PER_USD, UsageKind};
use portcullis_engine::Transport;
use portcullis_limits::{Crossing, CrossingKind};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::settings::NotificationSettings;

/// Where crossings go. Cheap to clone; full queues drop (counted), never block a request.
#[derive(Clone, Default)]
pub struct Crossings {
    tx: Option<mpsc::Sender<Crossing>>,
    dropped: Arc<AtomicU64>,
}

impl Crossings {
    pub fn report(&self, crossings: Vec<Crossing>) {
        let Some(tx) = &self.tx else { return };
        for c in crossings {
            if tx.try_send(c).is_err() {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// The event every channel receives.
pub fn event_json(c: &Crossing) -> Value {
    let units = |n: i64| match c.usage {
        UsageKind::Cost => json!(n as f64 / NANOS_PER_USD as f64),
        UsageKind::Tokens => json!(n),
    };
    json!({
        "type": match c.kind {
            CrossingKind::AlertThreshold => "budget.alert_threshold_reached",
            CrossingKind::Exhausted => "budget.exhausted",
        },
        "scope": {"kind": c.scope.kind.as_str(), "id": c.scope.id},
        "usage_type": match c.usage { UsageKind::Cost => "cost", UsageKind::Tokens => "tokens" },
        "spent": units(c.spent),
        "threshold": units(c.threshold),
        "limit": units(c.limit),
        "period": c.period.to_string(),
    })
}

/// Starts the worker; returns the handle requests report through.
pub fn start(
    settings: NotificationSettings,
    repo: Option<Arc<dyn Repository>>,
    transport: Arc<dyn Transport>,
) -> Crossings {
    let (tx, mut rx) = mpsc::channel::<Crossing>(1024);
    let mailer = settings
        .smtp
        .as_ref()
        .and_then(|s| match mail::Mailer::new(s) {
            Ok(m) => Some(m),
            Err(e) => {
                tracing::error!("SMTP is configured but unusable, budget emails are off: {e}");
                None
            }
        });
    tokio::spawn(async move {
        while let Some(c) = rx.recv().await {
            let event = event_json(&c);
            if let Some(repo) = &repo {
                let audit = AuditEvent {
                    id: uuid::Uuid::new_v4().to_string(),
                    at: crate::pipeline::unix_millis(),
                    actor_id: "system".into(),
                    actor_name: "budget".into(),
                    action: event["type"].as_str().unwrap_or("budget").to_owned(),
                    resource_type: c.scope.kind.as_str().to_owned(),
                    resource_id: c.scope.id.clone(),
                    workspace_id: None,
                    details: event.clone(),
                };
                if let Err(e) = repo.record_audit(audit).await {
                    tracing::warn!("budget alert not written to the audit log: {e}");
                }
            }
            if let Some(url) = &settings.webhook_url {
                post_webhook(transport.as_ref(), url, &event).await;
            }
            if let Some(m) = &mailer {
                m.send(&event).await;
            }
        }
    });
    Crossings {
        tx: Some(tx),
        dropped: Arc::default(),
    }
}

async fn post_webhook(transport: &dyn Transport, url: &str, event: &Value) {
    let body = Bytes::from(serde_json::to_vec(event).unwrap_or_default());
    let req = match http::Request::post(url)
        .header("content-type", "application/json")
        .header(
            "user-agent",
            concat!("portcullis/", env!("CARGO_PKG_VERSION")),
        )
        .body(portcullis_engine::body::full(body))
    {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("budget webhook URL is invalid: {e}");
            return;
        }
    };
    match tokio::time::timeout(Duration::from_secs(10), transport.send(req)).await {
        Ok(Ok(resp)) if resp.status().is_success() => {}
        Ok(Ok(resp)) => tracing::warn!(
            status = resp.status().as_u16(),
            "budget webhook refused the alert"
        ),
        Ok(Err(e)) => tracing::warn!("budget webhook unreachable: {e}"),
        Err(_) => tracing::warn!("budget webhook timed out"),
    }
}

mod mail {
    //! SMTP delivery of budget alerts (lettre, rustls).

    use lettre::message::Mailbox;
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
    use serde_json::Value;

    use crate::settings::SmtpSettings;

    pub struct Mailer {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
        to: Vec<Mailbox>,
    }

    impl Mailer {
        pub fn new(s: &SmtpSettings) -> Result<Mailer, String> {
            let mut b = if s.starttls {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.host)
                    .map_err(|e| e.to_string())?
            } else {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host)
            };
            b = b.port(s.port);
            if let Some(user) = &s.username {
                let password = s
                    .password_env
                    .as_deref()
                    .and_then(|v| std::env::var(v).ok())
                    .unwrap_or_default();
                b = b.credentials(Credentials::new(user.clone(), password));
            }
            let parse = |a: &str| a.parse::<Mailbox>().map_err(|e| format!("{a}: {e}"));
            Ok(Mailer {
                transport: b.build(),
                from: parse(&s.from)?,
                to: s.to.iter().map(|a| parse(a)).collect::<Result<_, _>>()?,
            })
        }

        pub async fn send(&self, event: &Value) {
            if self.to.is_empty() {
                return;
            }
            let subject = format!(
                "Portcullis: {} for {} {}",
                event["type"].as_str().unwrap_or("budget"),
                event["scope"]["kind"].as_str().unwrap_or(""),
                event["scope"]["id"].as_str().unwrap_or("")
            );
            let text = serde_json::to_string_pretty(event).unwrap_or_default();
            let mut m = Message::builder().from(self.from.clone()).subject(subject);
            for t in &self.to {
                m = m.to(t.clone());
            }
            match m.body(text) {
                Ok(msg) => {
                    if let Err(e) = self.transport.send(msg).await {
                        tracing::warn!("budget alert email not sent: {e}");
                    }
                }
                Err(e) => tracing::warn!("budget alert email not built: {e}"),
            }
        }
    }
}
