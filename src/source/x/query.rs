//! The `x` source's query: the configured search, and the brand's accounts (SPEC §5.1).
//!
//! Pure; the search itself is `api`'s.

/// The query searched: the configured one, and, when the brand has accounts on X, their posts
/// (`(query) OR from:a OR from:b`), so the brand's replies come in with the complaints.
///
/// One query rather than a second `from:` search: X bills each post a search returns, so a
/// brand reply that also matches the query would be billed twice by two searches, and a second
/// search would take its own request, its own `since_id` and its own share of the cap. Here
/// every post read is counted once against `max_posts_per_day` by the one budget, and paging
/// and the cursor stay as they are. Handles that cannot be X usernames (`name@server`, a
/// Mastodon account) are left out.
pub fn search_query(query: &str, brand_accounts: &[String]) -> String {
    let names: Vec<&str> = brand_accounts
        .iter()
        .map(|h| h.trim().trim_start_matches('@'))
        .filter(|n| {
            (1..=15).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
        .collect();
    if names.is_empty() {
        return query.to_string();
    }
    let from: Vec<String> = names.iter().map(|n| format!("from:{n}")).collect();
    format!("({query}) OR {}", from.join(" OR "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_brand_accounts_join_the_query() {
        assert_eq!(search_query("colis lang:fr", &[]), "colis lang:fr");
        let brand = [
            "@posteo_aide".to_string(),
            "Posteo".to_string(),
            "posteo@mastodon.social".to_string(),
            "@much_too_long_for_x".to_string(),
        ];
        assert_eq!(
            search_query("colis lang:fr", &brand),
            "(colis lang:fr) OR from:posteo_aide OR from:Posteo"
        );
    }
}
