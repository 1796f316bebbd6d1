//! The Storage actor on the configured backend: local directory (embedded) or
//! S3 (services mode): put, get, list, delete, and presigned links fetched by a
//! plain HTTP client, with the delivery headers they were signed with.

use std::time::Duration;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream};
use kiln::actors::storage::messages::*;
use kiln::actors::storage::{ObjectKey, StorageError};
use kiln::domain::delivery::Delivery;
use kiln::telemetry::RequestId;
use reqwest::StatusCode;

use crate::support::app::{TestApp, spawn_app};
use crate::support::wait::wait_until;

fn key(raw: &str) -> ObjectKey {
    ObjectKey::parse(raw).unwrap()
}

/// Stores a deterministic body of `len` bytes under `raw_key`; returns it.
async fn put(app: &TestApp, raw_key: &str, len: usize) -> Vec<u8> {
    let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
    assert_eq!(app.put_object(raw_key, &data).await, len as u64);
    data
}

async fn get(app: &TestApp, raw_key: &str) -> Result<Vec<u8>, StorageError> {
    let object = app
        .actors
        .storage
        .send(GetObject {
            request_id: RequestId::generate(),
            key: key(raw_key),
        })
        .await
        .unwrap()?;
    let chunks: Vec<Bytes> = object.body.try_collect().await.unwrap();
    Ok(chunks.concat())
}

async fn presign(app: &TestApp, raw_key: &str, ttl: Duration) -> PresignedUrl {
    presign_as(app, raw_key, ttl, Delivery::new("image/png", "cat.png")).await
}

async fn presign_as(
    app: &TestApp,
    raw_key: &str,
    ttl: Duration,
    delivery: Delivery,
) -> PresignedUrl {
    app.actors
        .storage
        .send(PresignGet {
            request_id: RequestId::generate(),
            key: key(raw_key),
            ttl,
            delivery,
        })
        .await
        .unwrap()
        .unwrap()
}

#[actix_rt::test]
async fn objects_round_trip_through_put_get_list_and_delete() {
    let app = spawn_app().await;
    let small = put(&app, "u1/f1/original.png", 1000).await;
    // Larger than one part, so it goes up as a multipart upload.
    let large = put(&app, "u1/f1/xl.png", 9 * 1024 * 1024 + 17).await;
    put(&app, "u2/f9/original.png", 10).await;

    assert_eq!(get(&app, "u1/f1/original.png").await.unwrap(), small);
    assert!(get(&app, "u1/f1/xl.png").await.unwrap() == large);

    let listed = app
        .actors
        .storage
        .send(ListObjects {
            request_id: RequestId::generate(),
            prefix: key("u1/f1"),
        })
        .await
        .unwrap()
        .unwrap();
    let keys: Vec<_> = listed.iter().map(|o| (o.key.as_str(), o.size)).collect();
    assert_eq!(
        keys,
        vec![
            ("u1/f1/original.png", 1000),
            ("u1/f1/xl.png", large.len() as u64)
        ]
    );

    for k in ["u1/f1/original.png", "u1/f1/xl.png"] {
        app.delete_object(k).await;
        assert!(matches!(get(&app, k).await, Err(StorageError::NotFound)));
    }
    assert_eq!(get(&app, "u2/f9/original.png").await.unwrap().len(), 10);
}

#[actix_rt::test]
async fn a_failed_upload_body_leaves_no_object_behind() {
    let app = spawn_app().await;
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from(vec![1u8; 9 * 1024 * 1024])),
        Err(std::io::Error::other("client went away")),
    ];
    let result = app
        .actors
        .storage
        .send(PutObject {
            request_id: RequestId::generate(),
            key: key("u3/f3/original.png"),
            content_type: "image/png".into(),
            body: stream::iter(chunks).boxed(),
        })
        .await
        .unwrap();
    assert!(matches!(result, Err(StorageError::Body(_))));
    assert!(matches!(
        get(&app, "u3/f3/original.png").await,
        Err(StorageError::NotFound)
    ));
}

#[actix_rt::test]
async fn a_presigned_link_serves_the_object_to_a_plain_http_client() {
    let app = spawn_app().await;
    let data = put(&app, "u4/f4/original.png", 4096).await;
    let link = presign(&app, "u4/f4/original.png", Duration::from_secs(60)).await;
    assert!(link.expires_at > chrono::Utc::now());
    let response = reqwest::get(link.url.as_str()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.bytes().await.unwrap().to_vec(), data);
}

#[actix_rt::test]
async fn a_tampered_presigned_link_is_refused() {
    let app = spawn_app().await;
    put(&app, "u5/f5/original.png", 100).await;
    put(&app, "u5/f5/secret.png", 100).await;
    let link = presign(&app, "u5/f5/original.png", Duration::from_secs(60)).await;

    let other_object = link.url.as_str().replace("original.png", "secret.png");
    let response = reqwest::get(&other_object).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    let mut longer = link.url.clone();
    let pairs: Vec<(String, String)> = link
        .url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k.eq_ignore_ascii_case("expires") || k.eq_ignore_ascii_case("X-Amz-Expires")
            {
                "86400".to_string()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    longer.query_pairs_mut().clear().extend_pairs(pairs);
    let response = reqwest::get(longer.as_str()).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[actix_rt::test]
async fn a_presigned_link_answers_with_the_type_and_disposition_it_was_signed_with() {
    let app = spawn_app().await;
    // Stored as a PNG; the link says otherwise, and wins.
    put(&app, "u7/f7/original.pdf", 100).await;
    let delivery = Delivery::new("application/pdf", "Q3 “report” 100%.pdf");
    let link = presign_as(
        &app,
        "u7/f7/original.pdf",
        Duration::from_secs(60),
        delivery,
    )
    .await;
    let response = reqwest::get(link.url.as_str()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"Q3 _report_ 100_.pdf\"; \
         filename*=UTF-8''Q3%20%E2%80%9Creport%E2%80%9D%20100%25.pdf"
    );
    if !app.uses_services() {
        // S3 cannot send these; Kiln's own route does.
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(
            headers["content-security-policy"],
            "default-src 'none'; sandbox"
        );
    }
}

#[actix_rt::test]
async fn a_presigned_link_whose_type_or_name_was_changed_is_refused() {
    let app = spawn_app().await;
    put(&app, "u8/f8/original.pdf", 100).await;
    let delivery = Delivery::new("application/pdf", "report.pdf");
    let link = presign_as(
        &app,
        "u8/f8/original.pdf",
        Duration::from_secs(60),
        delivery,
    )
    .await;
    // The local route's parameters, and S3's response overrides.
    let changeable = [
        "type",
        "name",
        "response-content-type",
        "response-content-disposition",
    ];
    let mut changed = 0;
    for param in changeable {
        if !link.url.query_pairs().any(|(k, _)| k == param) {
            continue;
        }
        let mut tampered = link.url.clone();
        let pairs: Vec<(String, String)> = link
            .url
            .query_pairs()
            .map(|(k, v)| match k == param {
                true => (k.into_owned(), "text/html".to_string()),
                false => (k.into_owned(), v.into_owned()),
            })
            .collect();
        tampered.query_pairs_mut().clear().extend_pairs(pairs);
        let response = reqwest::get(tampered.as_str()).await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{param}");
        changed += 1;
    }
    assert_eq!(changed, 2, "{}", link.url);
}

#[actix_rt::test]
async fn an_expired_presigned_link_is_refused() {
    let app = spawn_app().await;
    put(&app, "u6/f6/original.png", 100).await;
    let link = presign(&app, "u6/f6/original.png", Duration::from_secs(1)).await;
    wait_until(Duration::from_secs(10), || async {
        reqwest::get(link.url.as_str()).await.unwrap().status() == StatusCode::FORBIDDEN
    })
    .await;
    assert!(chrono::Utc::now() >= link.expires_at);
}
