//! `files`: uploaded originals. `status` is one of processing | ready | failed.
//! `storage_key` names the original's object, which a `deduplicated` file
//! shares with an earlier file of the same user (an object goes with the last
//! row naming it); `purge_started_at` is set while a purge deletes the file's
//! objects, so nothing is deduplicated onto them.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq)]
#[sea_orm(table_name = "files")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub filename: String,
    #[sea_orm(column_type = "Text")]
    pub content_type: String,
    #[sea_orm(column_type = "Text")]
    pub extension: String,
    pub size_bytes: i64,
    #[sea_orm(column_type = "Text")]
    pub sha256: String,
    #[sea_orm(column_type = "Text")]
    pub storage_key: String,
    #[sea_orm(column_type = "Text")]
    pub status: String,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub page_count: Option<i32>,
    /// ThumbHash placeholder, standard base64.
    #[sea_orm(column_type = "Text", nullable)]
    pub thumbhash: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deduplicated: bool,
    pub purge_started_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::UserId",
        to = "super::users::Column::Id",
        on_update = "NoAction",
        on_delete = "Cascade"
    )]
    Users,
    #[sea_orm(has_many = "super::file_variants::Entity")]
    FileVariants,
    #[sea_orm(has_many = "super::processing_jobs::Entity")]
    ProcessingJobs,
    #[sea_orm(has_many = "super::file_shares::Entity")]
    FileShares,
    #[sea_orm(has_many = "super::transforms::Entity")]
    Transforms,
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Users.def()
    }
}

impl Related<super::file_variants::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::FileVariants.def()
    }
}

impl Related<super::processing_jobs::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ProcessingJobs.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
