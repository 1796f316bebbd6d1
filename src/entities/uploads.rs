//! `uploads`: resumable (tus) uploads in progress; see the migration for what
//! each column holds. `parts` is a JSON array of S3 part ids, in order.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq)]
#[sea_orm(table_name = "uploads")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub length: i64,
    pub received_bytes: i64,
    #[sea_orm(column_type = "Text", nullable)]
    pub filename: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub processors: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub options: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub multipart_id: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub parts: String,
    pub parts_bytes: i64,
    pub claimed_until: Option<DateTimeUtc>,
    pub file_id: Option<Uuid>,
    pub expires_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
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
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Users.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
