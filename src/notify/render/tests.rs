//! Unit tests of `render`: the case link in every rendering.

use super::*;
use crate::detect::{AlertPost, CaseRef};
use crate::notify::{discord, mattermost, slack, teams, webhook};

/// A case alert whose signed link the dispatcher filled in (`&` between its fields).
fn case_alert() -> Alert {
    let at: chrono::DateTime<chrono::Utc> = "2026-11-22T10:00:00Z".parse().unwrap();
    let post = AlertPost {
        source: "forum".into(),
        author: Some("@alice".into()),
        author_name: None,
        text: "Mon colis est en retard".into(),
        url: None,
        created_at: at,
        followers: None,
        engagement: None,
        matched: Vec::new(),
    };
    let mut alert = Alert::each(
        "livraison",
        std::time::Duration::from_secs(900),
        None,
        post,
        at,
    );
    alert.case = Some(CaseRef {
        id: 7,
        opened_at: at,
        due_at: at + chrono::Duration::minutes(30),
        ack_url: Some(
            "https://vigie.example.org/cases/7/ack?by=sav&exp=1795000000&sig=abc-_x".into(),
        ),
    });
    alert
}

#[test]
fn the_case_link_is_in_every_rendering_and_absent_without_a_case() {
    let url = "https://vigie.example.org/cases/7/ack?by=sav&exp=1795000000&sig=abc-_x";
    let fr = Locale::new(crate::config::Language::French, chrono_tz::Europe::Paris);
    let en = Locale::default();
    let alert = case_alert();
    assert!(text(&alert, &en).contains(&format!("Mark as handled: {url}")));
    let page = html(&alert, &fr, None);
    let href = url.replace('&', "&amp;");
    assert!(page.contains(&format!("<a href=\"{href}\"")), "{page}");
    assert!(page.contains(">Marquer comme traité</a>"), "{page}");
    let slack = slack::body(&alert, &en).to_string();
    assert!(
        slack.contains(&format!("<{href}|Mark as handled>")),
        "{slack}"
    );
    let mm = mattermost::body(&alert, &en)["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(mm.contains(&format!("[Mark as handled]({url})")), "{mm}");
    let discord = discord::body(&alert, &en)["embeds"][0]["description"].to_string();
    assert!(
        discord.contains(&format!("[Mark as handled]({url})")),
        "{discord}"
    );
    let teams = teams::body(&alert, &en);
    let action = &teams["attachments"][0]["content"]["actions"][0];
    assert_eq!(
        (action["title"].as_str(), action["url"].as_str()),
        (Some("Mark as handled"), Some(url))
    );
    assert_eq!(webhook::body(&alert, &en)["case"]["ack_url"], url);
    assert_eq!(webhook::body(&alert, &en)["case"]["id"], 7);

    // A case without a link (no `listen`), or no case: no link anywhere.
    let mut plain = case_alert();
    plain.case.as_mut().unwrap().ack_url = None;
    assert_eq!(case_link(&plain, &en), None);
    assert!(!html(&plain, &en, None).contains("Mark as handled"));
    assert!(!slack::body(&plain, &en)
        .to_string()
        .contains("Mark as handled"));
    // A link that is not http(s) is never rendered.
    plain.case.as_mut().unwrap().ack_url = Some("javascript:alert(1)".into());
    assert_eq!(case_link(&plain, &en), None);
}
