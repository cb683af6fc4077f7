fn main() {
    // Pages are .html (escaped), mails are .txt (plain text, not escaped).
    minijinja_embed::embed_templates!("templates", &[".html", ".txt"]);
}
