//! `users`: one row per account; `password_hash` is `None` for OAuth-only users.
//! `token_generation` is bumped when the account's sign-ins must end (a password
//! reset): access tokens issued under an older generation are refused.
//! `disabled_at` is set while an operator has the account disabled: nothing
//! signs in with it until it is cleared.
//! `used_bytes` and `used_files` count the account's originals and variants,
//! kept by the transactions that add and remove them; `quota_bytes` and
//! `quota_files` are its own limits (NULL: the configured defaults apply) and
//! `quota_unlimited` lifts every limit.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(column_type = "Text", unique)]
    pub email: String,
    #[sea_orm(column_type = "Text")]
    pub name: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub password_hash: Option<String>,
    pub email_verified: bool,
    pub is_admin: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub token_generation: i32,
    pub disabled_at: Option<DateTimeUtc>,
    pub used_bytes: i64,
    pub used_files: i64,
    pub quota_bytes: Option<i64>,
    pub quota_files: Option<i64>,
    pub quota_unlimited: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::sessions::Entity")]
    Sessions,
    #[sea_orm(has_many = "super::oauth_accounts::Entity")]
    OauthAccounts,
    #[sea_orm(has_many = "super::api_tokens::Entity")]
    ApiTokens,
    #[sea_orm(has_many = "super::revoked_tokens::Entity")]
    RevokedTokens,
    #[sea_orm(has_many = "super::files::Entity")]
    Files,
    #[sea_orm(has_many = "super::password_resets::Entity")]
    PasswordResets,
    #[sea_orm(has_many = "super::email_verifications::Entity")]
    EmailVerifications,
}

impl Related<super::sessions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Sessions.def()
    }
}

impl Related<super::oauth_accounts::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::OauthAccounts.def()
    }
}

impl Related<super::api_tokens::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ApiTokens.def()
    }
}

impl Related<super::revoked_tokens::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::RevokedTokens.def()
    }
}

impl Related<super::files::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Files.def()
    }
}

impl Related<super::password_resets::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::PasswordResets.def()
    }
}

impl Related<super::email_verifications::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::EmailVerifications.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
