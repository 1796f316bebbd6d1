//! Webhooks end to end: a real receiver on loopback checks every delivery's
//! Standard Webhooks signature with the `standardwebhooks` library. Each event
//! arrives where it is subscribed; a refused delivery is retried with the same
//! id; an endpoint that keeps failing is disabled and its owner mailed; and
//! with `WEBHOOK_ALLOW_PRIVATE_NETWORKS` off, private destinations are refused;
//! and a delivery whose sender is killed mid-request goes out again.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::api::{error_code, file_id};
use crate::support::app::{TestApp, spawn_app_with};
use crate::support::cluster::Cluster;
use crate::support::processes::KilnProcess;
use crate::support::servers::{Answers, WebhookReceiver};
use crate::support::wait::{wait_for, wait_until};

/// An app that may send to loopback, retrying fast.
async fn app_for_receivers(extra: &[(&str, &str)]) -> TestApp {
    let mut settings = vec![
        ("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "true"),
        ("WEBHOOK_POLL_INTERVAL", "100ms"),
        ("WEBHOOK_RETRY_FIRST", "200ms"),
        ("WEBHOOK_RETRY_LONGEST", "1s"),
    ];
    settings.extend_from_slice(extra);
    spawn_app_with(settings).await
}

/// Adds an endpoint for `events` and hands its secret to the receiver;
/// returns the endpoint's id.
async fn subscribe(
    app: &TestApp,
    token: &str,
    receiver: &WebhookReceiver,
    events: &[&str],
) -> String {
    let created = app
        .post_json(
            "/api/webhooks",
            &json!({ "url": receiver.url(), "events": events, "description": "tests" }),
            Some(token),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    let secret = created["webhook"]["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"), "{created}");
    receiver.set_secret(secret);
    created["webhook"]["id"].as_str().unwrap().to_string()
}

/// The endpoint's deliveries as its owner lists them.
async fn deliveries(app: &TestApp, token: &str, webhook_id: &str) -> Vec<Value> {
    let listed = app
        .get_json(
            &format!("/api/webhooks/{webhook_id}/deliveries"),
            Some(token),
        )
        .await;
    listed["deliveries"].as_array().unwrap().clone()
}

/// Waits until the endpoint's latest delivery, as its owner lists it,
/// satisfies `done`; returns the list.
async fn wait_for_latest_delivery(
    app: &TestApp,
    token: &str,
    webhook_id: &str,
    done: impl Fn(&Value) -> bool,
) -> Vec<Value> {
    wait_for(Duration::from_secs(20), async || {
        let listed = deliveries(app, token, webhook_id).await;
        match listed.first().is_some_and(&done) {
            true => Ok(listed),
            false => Err(format!("{listed:?}")),
        }
    })
    .await
}

/// The events of `received`, in order.
fn events(received: &[Value]) -> Vec<&str> {
    received
        .iter()
        .map(|delivery| delivery["body"]["type"].as_str().unwrap_or("?"))
        .collect()
}

#[actix_rt::test]
async fn each_event_reaches_the_endpoints_subscribed_to_it_signed() {
    let app = app_for_receivers(&[]).await;
    let token = app.verified_user("hooks@example.com").await;
    let everything = WebhookReceiver::start(Answers::default()).await;
    let only_dead = WebhookReceiver::start(Answers::default()).await;
    subscribe(
        &app,
        &token,
        &everything,
        &["file.ready", "file.failed", "job.dead"],
    )
    .await;
    subscribe(&app, &token, &only_dead, &["job.dead"]).await;

    let ready = file_id(&app.upload_fixture(&token, "small.jpg").await);
    let received = everything
        .wait_until("file.ready", |r| events(r).contains(&"file.ready"))
        .await;
    let delivery = &received[0];
    assert_eq!(delivery["verified"], true, "{delivery}");
    assert_eq!(delivery["body"]["data"]["file"]["id"], ready.as_str());
    assert_eq!(delivery["body"]["data"]["file"]["status"], "ready");
    let variants = delivery["body"]["data"]["variants"].as_array().unwrap();
    assert!(
        variants.iter().any(|v| v["name"] == "thumbnail"),
        "the variants made: {delivery}"
    );

    let broken = file_id(&app.upload_fixture(&token, "truncated.jpg").await);
    let received = everything
        .wait_until("file.failed and job.dead", |r| {
            events(r).contains(&"file.failed") && events(r).contains(&"job.dead")
        })
        .await;
    for delivery in &received {
        assert_eq!(delivery["verified"], true, "{delivery}");
    }
    let dead = received
        .iter()
        .find(|delivery| delivery["body"]["type"] == "job.dead")
        .unwrap();
    assert_eq!(dead["body"]["data"]["file"]["id"], broken.as_str());
    assert_eq!(dead["body"]["data"]["job"]["status"], "dead");

    let received = only_dead
        .wait_until("job.dead", |r| events(r).contains(&"job.dead"))
        .await;
    assert!(
        events(&received).iter().all(|event| *event == "job.dead"),
        "an endpoint gets only what it subscribed to: {received:?}"
    );
    // Each delivery went once: nothing is left to send.
    let all = everything.received();
    let unique: std::collections::HashSet<&str> =
        all.iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(unique.len(), all.len(), "no delivery went twice: {all:?}");
}

#[actix_rt::test]
async fn a_delivery_answered_500_is_retried_with_the_same_id_until_it_is_taken() {
    let app = app_for_receivers(&[]).await;
    let token = app.verified_user("retry-hooks@example.com").await;
    let receiver = WebhookReceiver::start(Answers {
        fail_first: 2,
        ..Answers::default()
    })
    .await;
    let webhook = subscribe(&app, &token, &receiver, &["file.ready"]).await;
    let queued = app
        .post_json(
            &format!("/api/webhooks/{webhook}/test"),
            &json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(queued.status(), StatusCode::ACCEPTED);

    let received = receiver
        .wait_until("three attempts", |r| r.len() >= 3)
        .await;
    assert_eq!(
        received
            .iter()
            .map(|r| r["status"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [500, 500, 204]
    );
    for attempt in &received {
        assert_eq!(attempt["verified"], true, "{attempt}");
        assert_eq!(
            attempt["id"], received[0]["id"],
            "one webhook-id for every attempt"
        );
        assert_eq!(attempt["body"]["type"], "webhook.test");
    }
    let listed = wait_for_latest_delivery(&app, &token, &webhook, |latest| {
        latest["status"] == "delivered"
    })
    .await;
    assert_eq!(listed[0]["attempts"], 3);
    assert_eq!(listed[0]["status_code"], 204);
    assert_eq!(listed[0]["id"], received[0]["id"]);

    // The metrics recorder is the test process's, shared by every app in
    // it: other tests' attempts may count too.
    let metrics = app.metrics().await;
    let value = |series: &str| -> f64 {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("/metrics has no {series}:\n{metrics}"))
    };
    assert!(value(r#"kiln_webhook_deliveries_total{outcome="retried"}"#) >= 2.0);
    assert!(value(r#"kiln_webhook_deliveries_total{outcome="delivered"}"#) >= 1.0);
    assert!(value("kiln_webhook_deliveries_pending") >= 0.0);
    assert!(value("kiln_webhook_oldest_pending_age_seconds") >= 0.0);
}

#[actix_rt::test]
async fn an_endpoint_that_keeps_failing_is_disabled_and_its_owner_mailed() {
    let app = app_for_receivers(&[("WEBHOOK_GIVE_UP_AFTER", "1s")]).await;
    let token = app.verified_user("failing-hooks@example.com").await;
    let receiver = WebhookReceiver::start(Answers {
        fail_first: usize::MAX,
        ..Answers::default()
    })
    .await;
    let webhook = subscribe(&app, &token, &receiver, &["file.ready"]).await;
    app.post_json(
        &format!("/api/webhooks/{webhook}/test"),
        &json!({}),
        Some(&token),
    )
    .await;

    let listed = wait_for_latest_delivery(&app, &token, &webhook, |latest| {
        latest["status"] == "failed"
    })
    .await;
    assert!(listed[0]["attempts"].as_i64().unwrap() >= 2, "{listed:?}");
    assert_eq!(listed[0]["status_code"], 500);
    let endpoints = app.get_json("/api/webhooks", Some(&token)).await;
    assert!(
        endpoints["webhooks"][0]["disabled_at"].is_string(),
        "{endpoints}"
    );
    let mut inbox = app.inbox();
    let mail = loop {
        let mail = inbox.next_to("failing-hooks@example.com").await;
        if mail.subject.contains("disabled") {
            break mail;
        }
    };
    assert!(mail.text.contains(&receiver.url()), "{}", mail.text);

    // A disabled endpoint gets nothing more.
    let before = receiver.received().len();
    let refused = app
        .post_json(
            &format!("/api/webhooks/{webhook}/test"),
            &json!({}),
            Some(&token),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(refused).await, "webhook_disabled");
    app.upload_fixture(&token, "small.jpg").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.received().len(), before);
}

#[actix_rt::test]
async fn private_destinations_are_refused_unless_allowed() {
    let app = spawn_app_with([("WEBHOOK_POLL_INTERVAL", "100ms")]).await;
    let token = app.verified_user("ssrf@example.com").await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://10.0.0.8/hook",
        "http://100.64.1.1/hook",
        "http://[fd00::1]/hook",
    ] {
        let refused = app
            .post_json(
                "/api/webhooks",
                &json!({ "url": url, "events": ["file.ready"] }),
                Some(&token),
            )
            .await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "{url}");
        assert_eq!(error_code(refused).await, "invalid_url");
    }

    // A name is checked where it matters: after DNS, on every attempt.
    let receiver = WebhookReceiver::start(Answers::default()).await;
    let by_name = receiver.url().replace("127.0.0.1", "localhost");
    let created = app
        .post_json(
            "/api/webhooks",
            &json!({ "url": by_name, "events": ["file.ready"] }),
            Some(&token),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    let webhook = created["webhook"]["id"].as_str().unwrap();
    app.post_json(
        &format!("/api/webhooks/{webhook}/test"),
        &json!({}),
        Some(&token),
    )
    .await;
    let listed = wait_for_latest_delivery(&app, &token, webhook, |latest| {
        latest["attempts"].as_i64() >= Some(2)
    })
    .await;
    let error = listed[0]["last_error"].as_str().unwrap();
    assert!(error.contains("not a public address"), "{error}");
    assert_eq!(listed[0]["status_code"], Value::Null);
    assert!(
        receiver.received().is_empty(),
        "nothing reached the receiver"
    );
}

#[actix_rt::test]
async fn endpoints_are_the_owners_own_and_their_secret_is_shown_once() {
    let app = app_for_receivers(&[]).await;
    let owner = app.verified_user("owner-hooks@example.com").await;
    let other = app.verified_user("other-hooks@example.com").await;
    let unverified = app.signed_in_user("unverified-hooks@example.com").await;
    let receiver = WebhookReceiver::start(Answers::default()).await;
    let webhook = subscribe(&app, &owner, &receiver, &["file.ready", "job.dead"]).await;

    let listed = app.get_json("/api/webhooks", Some(&owner)).await;
    assert_eq!(listed["webhooks"][0]["id"], webhook.as_str());
    assert_eq!(
        listed["webhooks"][0]["events"],
        json!(["file.ready", "job.dead"])
    );
    assert!(listed["webhooks"][0].get("secret").is_none(), "{listed}");
    assert_eq!(
        app.get_json("/api/webhooks", Some(&other)).await["webhooks"],
        json!([])
    );
    let path = format!("/api/webhooks/{webhook}");
    assert_eq!(
        app.delete(&path, &other).await.status(),
        StatusCode::NOT_FOUND
    );
    let theirs = app.get(&format!("{path}/deliveries"), Some(&other)).await;
    assert_eq!(theirs.status(), StatusCode::NOT_FOUND);

    let refused = app
        .post_json(
            "/api/webhooks",
            &json!({ "url": receiver.url(), "events": ["file.ready"] }),
            Some(&unverified),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(refused).await, "email_unverified");
    for (body, code) in [
        (
            json!({ "url": "ftp://example.com/", "events": ["file.ready"] }),
            "invalid_url",
        ),
        (
            json!({ "url": receiver.url(), "events": [] }),
            "invalid_events",
        ),
        (
            json!({ "url": receiver.url(), "events": ["file.deleted"] }),
            "invalid_events",
        ),
        (
            json!({ "url": receiver.url(), "events": ["file.ready"], "description": "x".repeat(201) }),
            "invalid_description",
        ),
        // A NUL, which PostgreSQL's text refuses, among them.
        (
            json!({ "url": receiver.url(), "events": ["file.ready"], "description": "a\u{0}b" }),
            "invalid_description",
        ),
    ] {
        let refused = app.post_json("/api/webhooks", &body, Some(&owner)).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(error_code(refused).await, code);
    }

    assert_eq!(
        app.delete(&path, &owner).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get_json("/api/webhooks", Some(&owner)).await["webhooks"],
        json!([])
    );
}

/// The promise that no delivery is lost, with separate `kiln` processes: the
/// process sending a delivery is killed with SIGKILL while the receiver is
/// still answering; once its lease runs out, another process (embedded: the
/// same one, started again) sends it again, with the same `webhook-id`.
#[actix_rt::test]
async fn a_delivery_whose_sender_is_killed_mid_request_goes_out_again_with_its_id() {
    let receiver = WebhookReceiver::start(Answers {
        delay: Duration::from_millis(1500),
        ..Answers::default()
    })
    .await;
    let settings = [
        ("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "true"),
        ("WEBHOOK_POLL_INTERVAL", "100ms"),
        ("WEBHOOK_TIMEOUT", "3s"),
    ];
    let mut cluster = Cluster::start(1, None, &settings).await;
    // The cluster's account, verified as its mailed link would.
    cluster
        .execute("UPDATE users SET email_verified = true")
        .await;
    let created = cluster
        .client
        .post_json(
            "/api/webhooks",
            &json!({ "url": receiver.url(), "events": ["file.ready"] }),
            Some(&cluster.token),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    receiver.set_secret(created["webhook"]["secret"].as_str().unwrap());

    cluster.upload("small.jpg").await;
    let in_flight = "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending' AND leased_until IS NOT NULL";
    wait_until(Duration::from_secs(60), async || {
        cluster.count(in_flight).await > 0
    })
    .await;
    let sender = match cluster.workers.is_empty() {
        true => &cluster.api,
        false => &cluster.workers[0],
    };
    sender.signal("KILL");
    if cluster.workers.is_empty() {
        let restarted = KilnProcess::spawn(&["serve"], cluster.dir.path(), &cluster.env);
        restarted.wait_for_log("kiln started").await;
        let killed = std::mem::replace(&mut cluster.api, restarted);
        assert_eq!(killed.wait_for_exit().await.0, None, "killed by a signal");
    } else {
        let killed = cluster.workers.remove(0);
        assert_eq!(killed.wait_for_exit().await.0, None, "killed by a signal");
        cluster.workers.push(cluster.start_worker(&[]).await);
    }

    let delivered = "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'delivered'";
    wait_until(Duration::from_secs(60), async || {
        cluster.count(delivered).await == 1
    })
    .await;
    let received = receiver.received();
    assert!(
        received.len() >= 2,
        "sent again after the kill: {received:?}"
    );
    for delivery in &received {
        assert_eq!(delivery["verified"], true, "{delivery}");
        assert_eq!(
            delivery["id"], received[0]["id"],
            "one webhook-id: {received:?}"
        );
        assert_eq!(delivery["body"]["type"], "file.ready");
    }
}

#[actix_rt::test]
async fn a_redirect_is_a_failed_attempt_and_is_not_followed() {
    let app = app_for_receivers(&[]).await;
    let token = app.verified_user("redirect-hooks@example.com").await;
    let receiver = WebhookReceiver::start(Answers {
        status: Some(307),
        ..Answers::default()
    })
    .await;
    let webhook = subscribe(&app, &token, &receiver, &["file.ready"]).await;
    app.post_json(
        &format!("/api/webhooks/{webhook}/test"),
        &json!({}),
        Some(&token),
    )
    .await;
    let listed = wait_for_latest_delivery(&app, &token, &webhook, |latest| {
        latest["attempts"].as_i64() >= Some(2)
    })
    .await;
    assert_eq!(listed[0]["status"], "pending", "still to be retried");
    assert_eq!(listed[0]["status_code"], 307);
    let received = receiver.received();
    assert!(
        received
            .iter()
            .all(|request| request["path"] == "/hooks/kiln"),
        "the redirect's target was never asked: {received:?}"
    );
}
