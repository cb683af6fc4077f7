//! The console's page kit: a page that only says something.

use axum::response::Html;
use participe_web::Result;

use crate::frame::Console;

pub async fn message(console: &Console, title: &str, text: &str) -> Result<Html<String>> {
    console
        .render("console/auth/message.html", minijinja::context! { title, text })
        .await
}
