//! Share links to a user's file: making one (its token is shown once and kept
//! only as a hash), listing and revoking them, and opening one without an
//! account: the file and what the link opens, for its page, and the object
//! behind one of its names, for its downloads. What a link may be is
//! [`crate::domain::shares`]'s rule.

use actix::Message;
use secrecy::SecretString;
use uuid::Uuid;

use super::views::{original_delivery, variant_delivery};
use super::{IngestError, Peers};
use crate::actors::catalog::shares::{
    DeleteShare, FindShare, ListShares, RecordShare, Share, SharedFile,
};
use crate::actors::storage::ObjectKey;
use crate::auth::link_token;
use crate::domain::delivery::Delivery;
use crate::domain::shares::{ORIGINAL, ShareRequest};
use crate::telemetry::RequestId;

/// Makes a link to one of the user's files.
#[derive(Message)]
#[rtype(result = "Result<NewShare, IngestError>")]
pub struct ShareFile {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub file_id: Uuid,
    /// How long it lasts (`"7d"`); `None` for a week.
    pub expires_in: Option<String>,
    /// What it opens; `None` for everything.
    pub names: Option<Vec<String>>,
}

/// A link just made, with the token its URL carries (never shown again).
pub struct NewShare {
    pub share: Share,
    pub token: SecretString,
}

/// The live links to one of the user's files, newest first.
#[derive(Message)]
#[rtype(result = "Result<Vec<Share>, IngestError>")]
pub struct ShowShares {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub file_id: Uuid,
}

/// Revokes one of the user's links: it opens nothing from now on.
#[derive(Message)]
#[rtype(result = "Result<(), IngestError>")]
pub struct RevokeShare {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub share_id: Uuid,
}

/// What a link shows, for anyone who holds its token.
#[derive(Message)]
#[rtype(result = "Result<SharedFile, IngestError>")]
pub struct OpenShare {
    pub request_id: RequestId,
    pub token: String,
}

/// Where the bytes of one thing a link opens are (`"original"` or a variant's
/// name), with the headers they are delivered with.
#[derive(Message)]
#[rtype(result = "Result<SharedObject, IngestError>")]
pub struct FindSharedObject {
    pub request_id: RequestId,
    pub token: String,
    pub name: String,
}

pub struct SharedObject {
    pub key: ObjectKey,
    pub delivery: Delivery,
}

impl Peers {
    pub(super) async fn share_file(self, msg: ShareFile) -> Result<NewShare, IngestError> {
        let request = ShareRequest::parse(msg.expires_in.as_deref(), msg.names)
            .map_err(IngestError::InvalidShare)?;
        let lifetime = chrono::Duration::from_std(request.lifetime).map_err(|_| {
            IngestError::InvalidShare(crate::domain::shares::ShareRefusal::Lifetime)
        })?;
        let token = link_token::generate();
        let share = self
            .catalog
            .send(RecordShare {
                request_id: msg.request_id,
                user_id: msg.user_id,
                file_id: msg.file_id,
                token_hash: token.hash,
                names: request.names,
                expires_at: chrono::Utc::now() + lifetime,
            })
            .await??
            .ok_or(IngestError::FileNotFound)?;
        Ok(NewShare {
            share,
            token: token.token,
        })
    }

    pub(super) async fn show_shares(self, msg: ShowShares) -> Result<Vec<Share>, IngestError> {
        self.catalog
            .send(ListShares {
                request_id: msg.request_id,
                user_id: msg.user_id,
                file_id: msg.file_id,
            })
            .await??
            .ok_or(IngestError::FileNotFound)
    }

    pub(super) async fn revoke_share(self, msg: RevokeShare) -> Result<(), IngestError> {
        let deleted = self
            .catalog
            .send(DeleteShare {
                request_id: msg.request_id,
                user_id: msg.user_id,
                share_id: msg.share_id,
            })
            .await??;
        deleted.then_some(()).ok_or(IngestError::ShareNotFound)
    }

    pub(super) async fn open_share(self, msg: OpenShare) -> Result<SharedFile, IngestError> {
        self.catalog
            .send(FindShare {
                request_id: msg.request_id,
                token_hash: link_token::hash(&msg.token),
            })
            .await??
            .ok_or(IngestError::ShareNotFound)
    }

    pub(super) async fn find_shared_object(
        self,
        msg: FindSharedObject,
    ) -> Result<SharedObject, IngestError> {
        let name = msg.name;
        let shared = self
            .open_share(OpenShare {
                request_id: msg.request_id,
                token: msg.token,
            })
            .await?;
        let (key, delivery) = if name == ORIGINAL && shared.share.opens(ORIGINAL) {
            original_delivery(&shared.file)
        } else {
            // Only the variants the link opens were found.
            let variant = shared
                .variants
                .iter()
                .find(|variant| variant.name == name)
                .ok_or(IngestError::ShareNotFound)?;
            variant_delivery(&shared.file.filename, variant)
        };
        Ok(SharedObject {
            key: ObjectKey::parse(&key)?,
            delivery,
        })
    }
}
