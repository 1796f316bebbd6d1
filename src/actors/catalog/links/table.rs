//! What the two link tables have in common, written once: each row is a hashed
//! single-use token of one account, with an expiry, that is issued at most once
//! per interval and spent with a conditional UPDATE.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

use super::records::LinkCheck;
use crate::entities::{email_verifications, password_resets};

/// What the handlers read of any link row.
pub(super) struct LinkRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub used_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

impl LinkRow {
    /// Why the link cannot be used any more, or `None` when it can.
    pub fn unusable<T>(&self, now: DateTime<Utc>) -> Option<LinkCheck<T>> {
        match self.used_at {
            Some(_) => Some(LinkCheck::Invalid),
            None if self.expires_at <= now => Some(LinkCheck::Expired),
            None => None,
        }
    }
}

/// A table of single-use links: its columns, and how to read a row.
pub(super) trait LinkTable: EntityTrait {
    const ID: Self::Column;
    const USER_ID: Self::Column;
    const TOKEN_HASH: Self::Column;
    const USED_AT: Self::Column;
    const EXPIRES_AT: Self::Column;
    const CREATED_AT: Self::Column;

    fn link(row: &Self::Model) -> LinkRow;
}

/// Implements [`LinkTable`] for an entity module whose columns have the
/// link names.
macro_rules! link_table {
    ($table:ident) => {
        impl LinkTable for $table::Entity {
            const ID: Self::Column = $table::Column::Id;
            const USER_ID: Self::Column = $table::Column::UserId;
            const TOKEN_HASH: Self::Column = $table::Column::TokenHash;
            const USED_AT: Self::Column = $table::Column::UsedAt;
            const EXPIRES_AT: Self::Column = $table::Column::ExpiresAt;
            const CREATED_AT: Self::Column = $table::Column::CreatedAt;

            fn link(row: &Self::Model) -> LinkRow {
                LinkRow {
                    id: row.id,
                    user_id: row.user_id,
                    used_at: row.used_at,
                    expires_at: row.expires_at,
                    created_at: row.created_at,
                }
            }
        }
    };
}

link_table!(email_verifications);
link_table!(password_resets);

/// How much longer to wait before another mail, when the last one was made at
/// `latest` and mails may go out once per `interval`.
fn wait_left(latest: DateTime<Utc>, now: DateTime<Utc>, interval: Duration) -> Option<Duration> {
    let interval = TimeDelta::from_std(interval).unwrap_or(TimeDelta::MAX);
    let left = latest + interval - now;
    (left > TimeDelta::zero()).then(|| left.to_std().unwrap_or_default())
}

/// How long the account must still wait before it is sent another link of
/// this kind, or `None` when one may go out now.
pub(super) async fn wait_before_another<E: LinkTable, C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    now: DateTime<Utc>,
    interval: Duration,
) -> Result<Option<Duration>, DbErr> {
    let latest = E::find()
        .filter(E::USER_ID.eq(user_id))
        .order_by_desc(E::CREATED_AT)
        .one(db)
        .await?;
    Ok(latest.and_then(|row| wait_left(E::link(&row).created_at, now, interval)))
}

/// Deletes the account's spent and expired links, which can never be used
/// again: it keeps the table small.
pub(super) async fn prune_dead<E: LinkTable, C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    E::delete_many()
        .filter(E::USER_ID.eq(user_id))
        .filter(
            Condition::any()
                .add(E::USED_AT.is_not_null())
                .add(E::EXPIRES_AT.lte(now)),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// The link whose token hashes to `token_hash`.
pub(super) async fn find_link<E: LinkTable, C: ConnectionTrait>(
    db: &C,
    token_hash: String,
) -> Result<Option<E::Model>, DbErr> {
    E::find().filter(E::TOKEN_HASH.eq(token_hash)).one(db).await
}

/// Spends `link` and, with it, the account's other unspent links of this
/// kind. False when a racing request spent it first: nothing is changed then.
pub(super) async fn spend<E: LinkTable, C: ConnectionTrait>(
    db: &C,
    link: &LinkRow,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let spent = E::update_many()
        .col_expr(E::USED_AT, Expr::value(now))
        .filter(E::ID.eq(link.id))
        .filter(E::USED_AT.is_null())
        .exec(db)
        .await?;
    if spent.rows_affected == 0 {
        return Ok(false);
    }
    E::update_many()
        .col_expr(E::USED_AT, Expr::value(now))
        .filter(E::USER_ID.eq(link.user_id))
        .filter(E::USED_AT.is_null())
        .exec(db)
        .await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_mail_may_go_out_once_the_interval_has_passed() {
        let interval = Duration::from_secs(60);
        let now = Utc::now();
        let wait = wait_left(now - TimeDelta::seconds(45), now, interval);
        assert_eq!(wait, Some(Duration::from_secs(15)));
        assert_eq!(wait_left(now - TimeDelta::seconds(60), now, interval), None);
        assert_eq!(wait_left(now - TimeDelta::days(1), now, interval), None);
    }
}
