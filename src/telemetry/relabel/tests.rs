//! Vectors from Prometheus's model/relabel/relabel_test.go (TestRelabel, TestRelabelValidate,
//! TestTargetLabelValidity), each named after what it checks.

use super::*;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[derive(Default)]
struct R<'a> {
    src: &'a [&'a str],
    regex: Option<&'a str>,
    target: Option<&'a str>,
    repl: Option<&'a str>,
    action: Option<&'a str>,
    modulus: Option<u64>,
}

fn rule(r: R) -> Rule {
    Rule::new(&RuleSpec {
        source_labels: r.src.iter().map(|s| s.to_string()).collect(),
        separator: None,
        regex: r.regex.map(str::to_string),
        modulus: r.modulus,
        target_label: r.target.map(str::to_string),
        replacement: r.repl.map(str::to_string),
        action: r.action.map(str::to_string),
    })
    .expect("valid rule")
}

#[test]
fn replace_with_braced_group_twice() {
    let r = rule(R {
        src: &["a"],
        regex: Some("f(.*)"),
        target: Some("d"),
        repl: Some("ch${1}-ch${1}"),
        ..R::default()
    });
    let out = process(&labels(&[("a", "foo"), ("b", "bar"), ("c", "baz")]), &[r]).unwrap();
    assert_eq!(out, labels(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "choo-choo")]));
}

#[test]
fn replace_chain_sees_earlier_result_and_joins_sources() {
    let r1 = rule(R {
        src: &["a", "b"],
        regex: Some("f(.*);(.*)r"),
        target: Some("a"),
        repl: Some("b${1}${2}m"),
        ..R::default()
    });
    let r2 = rule(R {
        src: &["c", "a"],
        regex: Some("(b).*b(.*)ba(.*)"),
        target: Some("d"),
        repl: Some("$1$2$2$3"),
        ..R::default()
    });
    let out = process(&labels(&[("a", "foo"), ("b", "bar"), ("c", "baz")]), &[r1, r2]).unwrap();
    assert_eq!(out, labels(&[("a", "boobam"), ("b", "bar"), ("c", "baz"), ("d", "boooom")]));
}

#[test]
fn drop_ends_the_list() {
    let d = rule(R { src: &["a"], regex: Some(".*o.*"), action: Some("drop"), ..R::default() });
    let r = rule(R {
        src: &["a"],
        regex: Some("f(.*)"),
        target: Some("d"),
        repl: Some("ch$1-ch$1"),
        ..R::default()
    });
    assert_eq!(process(&labels(&[("a", "foo")]), &[d.clone(), r]), None);
    assert_eq!(process(&labels(&[("a", "foo"), ("b", "bar")]), &[d]), None);
}

#[test]
fn replace_group_inside_unanchored_looking_regex() {
    let r =
        rule(R { src: &["a"], regex: Some(".*(b).*"), target: Some("d"), repl: Some("$1"), ..R::default() });
    let out = process(&labels(&[("a", "abc")]), &[r]).unwrap();
    assert_eq!(out, labels(&[("a", "abc"), ("d", "b")]));
}

#[test]
fn drop_regex_is_anchored() {
    let input = labels(&[("a", "foo")]);
    let no_match = rule(R { src: &["a"], regex: Some("no-match"), action: Some("drop"), ..R::default() });
    assert_eq!(process(&input, &[no_match]), Some(input.clone()));
    // `f|o` would match inside "foo" unanchored; anchored as ^(?:f|o)$ it does not.
    let alt = rule(R { src: &["a"], regex: Some("f|o"), action: Some("drop"), ..R::default() });
    assert_eq!(process(&input, &[alt]), Some(input.clone()));
}

#[test]
fn keep_drops_unless_matched() {
    let input = labels(&[("a", "foo")]);
    let no = rule(R { src: &["a"], regex: Some("no-match"), action: Some("keep"), ..R::default() });
    assert_eq!(process(&input, &[no]), None);
    let yes = rule(R { src: &["a"], regex: Some("f.*"), action: Some("keep"), ..R::default() });
    assert_eq!(process(&input, &[yes]), Some(input));
}

#[test]
fn no_replacement_without_a_match() {
    let r = rule(R { src: &["a"], regex: Some("f"), target: Some("b"), repl: Some("bar"), ..R::default() });
    let input = labels(&[("a", "boo")]);
    assert_eq!(process(&input, &[r]), Some(input));
}

#[test]
fn hashmod_matches_upstream_values() {
    let r = rule(R {
        src: &["c"],
        target: Some("d"),
        action: Some("hashmod"),
        modulus: Some(1000),
        ..R::default()
    });
    let out = process(&labels(&[("a", "foo"), ("b", "bar"), ("c", "baz")]), &[r]).unwrap();
    assert_eq!(out.get("d").map(String::as_str), Some("976"));
    let r = rule(R {
        src: &["a"],
        target: Some("b"),
        action: Some("hashmod"),
        modulus: Some(1000),
        ..R::default()
    });
    let out = process(&labels(&[("a", "foo\nbar")]), &[r]).unwrap();
    assert_eq!(out, labels(&[("a", "foo\nbar"), ("b", "734")]));
}

#[test]
fn md5_rfc1321_vectors() {
    let hex = |d: [u8; 16]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
    assert_eq!(hex(md5(b"")), "d41d8cd98f00b204e9800998ecf8427e");
    assert_eq!(hex(md5(b"abc")), "900150983cd24fb0d6963f7d28e17f72");
    assert_eq!(
        hex(md5(b"12345678901234567890123456789012345678901234567890123456789012345678901234567890")),
        "57edf4a22be3c955ac49da2e2107b67a"
    );
}

#[test]
fn labelmap_copies_matching_names() {
    let r =
        rule(R { regex: Some("(b.*)"), repl: Some("bar_${1}"), action: Some("labelmap"), ..R::default() });
    let out = process(&labels(&[("a", "foo"), ("b1", "bar"), ("b2", "baz")]), &[r]).unwrap();
    assert_eq!(
        out,
        labels(&[("a", "foo"), ("b1", "bar"), ("b2", "baz"), ("bar_b1", "bar"), ("bar_b2", "baz")])
    );
    let r = rule(R {
        regex: Some("__meta_(my.*)"),
        repl: Some("${1}"),
        action: Some("LabelMap"),
        ..R::default()
    });
    let input =
        labels(&[("a", "foo"), ("__meta_my_bar", "aaa"), ("__meta_my_baz", "bbb"), ("__meta_other", "ccc")]);
    let out = process(&input, &[r]).unwrap();
    let mut want = input.clone();
    want.insert("my_bar".into(), "aaa".into());
    want.insert("my_baz".into(), "bbb".into());
    assert_eq!(out, want);
}

#[test]
fn replace_target_label_from_groups() {
    let input = labels(&[("a", "some-name-value")]);
    let ok = rule(R {
        src: &["a"],
        regex: Some("some-([^-]+)-([^,]+)"),
        repl: Some("${2}"),
        target: Some("${1}"),
        ..R::default()
    });
    assert_eq!(process(&input, &[ok]).unwrap(), labels(&[("a", "some-name-value"), ("name", "value")]));
    // An empty replacement (group 3 does not exist) deletes the target, which is absent here.
    let empty = rule(R {
        src: &["a"],
        regex: Some("some-([^-]+)-([^,]+)"),
        repl: Some("${3}"),
        target: Some("${1}"),
        ..R::default()
    });
    assert_eq!(process(&input, &[empty]).unwrap(), input);
}

#[test]
fn replace_to_an_invalid_expanded_target_does_nothing() {
    let input = labels(&[("a", "some-name-0")]);
    let rules = [
        rule(R {
            src: &["a"],
            regex: Some("some-([^-]+)-([^,]+)"),
            repl: Some("${1}"),
            target: Some("${3}"),
            ..R::default()
        }),
        rule(R {
            src: &["a"],
            regex: Some("some-([^-]+)(-[^,]+)"),
            repl: Some("${1}"),
            target: Some("${3}"),
            ..R::default()
        }),
    ];
    assert_eq!(process(&input, &rules).unwrap(), input);
}

#[test]
fn real_life_sd_tags() {
    let tags = "path:/secret,job:some-job,label:foo=bar";
    let rules = [
        rule(R {
            src: &["__meta_sd_tags"],
            regex: Some("(?:.+,|^)path:(/[^,]+).*"),
            repl: Some("${1}"),
            target: Some("__metrics_path__"),
            ..R::default()
        }),
        rule(R {
            src: &["__meta_sd_tags"],
            regex: Some("(?:.+,|^)job:([^,]+).*"),
            repl: Some("${1}"),
            target: Some("job"),
            ..R::default()
        }),
        rule(R {
            src: &["__meta_sd_tags"],
            regex: Some("(?:.+,|^)label:([^=]+)=([^,]+).*"),
            repl: Some("${2}"),
            target: Some("${1}"),
            ..R::default()
        }),
    ];
    let out = process(&labels(&[("__meta_sd_tags", tags)]), &rules).unwrap();
    assert_eq!(
        out,
        labels(&[
            ("__meta_sd_tags", tags),
            ("__metrics_path__", "/secret"),
            ("job", "some-job"),
            ("foo", "bar")
        ])
    );
}

#[test]
fn issue_12283_labeldrop_then_replace_then_keep() {
    let input = labels(&[
        ("__meta_kubernetes_pod_container_port_name", "foo"),
        ("__meta_kubernetes_pod_annotation_XXX_metrics_port", "9091"),
    ]);
    let rules = [
        rule(R {
            regex: Some("^__meta_kubernetes_pod_container_port_name$"),
            action: Some("labeldrop"),
            ..R::default()
        }),
        rule(R {
            src: &["__meta_kubernetes_pod_annotation_XXX_metrics_port"],
            regex: Some("(.+)"),
            repl: Some("metrics"),
            target: Some("__meta_kubernetes_pod_container_port_name"),
            ..R::default()
        }),
        rule(R {
            src: &["__meta_kubernetes_pod_container_port_name"],
            regex: Some("^metrics$"),
            action: Some("keep"),
            ..R::default()
        }),
    ];
    let out = process(&input, &rules).unwrap();
    assert_eq!(
        out,
        labels(&[
            ("__meta_kubernetes_pod_annotation_XXX_metrics_port", "9091"),
            ("__meta_kubernetes_pod_container_port_name", "metrics")
        ])
    );
}

#[test]
fn labelkeep_and_labeldrop() {
    let input = labels(&[("a", "foo"), ("b1", "bar"), ("b2", "baz")]);
    let keep = rule(R { regex: Some("(b.*)"), action: Some("labelkeep"), ..R::default() });
    assert_eq!(process(&input, &[keep]).unwrap(), labels(&[("b1", "bar"), ("b2", "baz")]));
    let drop = rule(R { regex: Some("(b.*)"), action: Some("labeldrop"), ..R::default() });
    assert_eq!(process(&input, &[drop]).unwrap(), labels(&[("a", "foo")]));
}

#[test]
fn lowercase_and_uppercase() {
    let rules = [
        rule(R { src: &["foo"], action: Some("uppercase"), target: Some("foo_uppercase"), ..R::default() }),
        rule(R { src: &["foo"], action: Some("lowercase"), target: Some("foo_lowercase"), ..R::default() }),
    ];
    let out = process(&labels(&[("foo", "bAr123Foo")]), &rules).unwrap();
    assert_eq!(
        out,
        labels(&[("foo", "bAr123Foo"), ("foo_lowercase", "bar123foo"), ("foo_uppercase", "BAR123FOO")])
    );
}

#[test]
fn keepequal_and_dropequal() {
    let input = labels(&[("__tmp_port", "1234"), ("__port1", "1234"), ("__port2", "5678")]);
    let r = |action, target| {
        rule(R { src: &["__tmp_port"], action: Some(action), target: Some(target), ..R::default() })
    };
    assert_eq!(process(&input, &[r("keepequal", "__port1")]), Some(input.clone()));
    assert_eq!(process(&input, &[r("dropequal", "__port1")]), None);
    assert_eq!(process(&input, &[r("dropequal", "__port2")]), Some(input.clone()));
    assert_eq!(process(&input, &[r("keepequal", "__port2")]), None);
}

#[test]
fn absent_source_reads_as_empty_and_empty_result_deletes() {
    // Default regex (.*) and replacement $1: copying an absent label deletes the target.
    let r = rule(R { src: &["missing"], target: Some("a"), ..R::default() });
    assert_eq!(process(&labels(&[("a", "x")]), &[r]).unwrap(), Labels::new());
}

#[test]
fn validation_as_upstream() {
    let err = |spec: RuleSpec| Rule::new(&spec).unwrap_err();
    assert_eq!(err(RuleSpec { action: Some("replace".into()), ..RuleSpec::default() }).field, "target_label");
    assert_eq!(
        err(RuleSpec { action: Some("lowercase".into()), ..RuleSpec::default() }).field,
        "target_label"
    );
    assert_eq!(
        err(RuleSpec {
            action: Some("lowercase".into()),
            target_label: Some("${3}".into()),
            ..RuleSpec::default()
        })
        .field,
        "target_label"
    );
    let groups = |t: &str| RuleSpec {
        source_labels: vec!["a".into()],
        regex: Some("some-([^-]+)-([^,]+)".into()),
        replacement: Some("${1}".into()),
        target_label: Some(t.into()),
        ..RuleSpec::default()
    };
    assert!(Rule::new(&groups("${3}")).is_ok());
    assert_eq!(err(groups("0${3}")).field, "target_label");
    assert_eq!(err(groups("-${3}")).field, "target_label");
    assert_eq!(err(RuleSpec { action: Some("relabel".into()), ..RuleSpec::default() }).field, "action");
    assert_eq!(
        err(RuleSpec { regex: Some("(".into()), target_label: Some("a".into()), ..RuleSpec::default() })
            .field,
        "regex"
    );
    assert_eq!(
        err(RuleSpec {
            action: Some("hashmod".into()),
            target_label: Some("a".into()),
            ..RuleSpec::default()
        })
        .field,
        "modulus"
    );
}

#[test]
fn target_label_validity() {
    for (s, valid) in [
        ("-label", false),
        ("label", true),
        ("label${1}", true),
        ("${1}label", true),
        ("${1}", true),
        ("${", false),
        ("$", false),
        ("${}", false),
        ("foo${", false),
        ("$1", true),
        ("asd$2asd", true),
        ("-foo${1}bar-", false),
        ("_${1}_", true),
        ("foo${bar}foo", true),
    ] {
        assert_eq!(valid_target_template(s), valid, "{s:?}");
    }
}

#[test]
fn labeldrop_takes_only_a_regex_but_defaults_may_be_spelt_out() {
    let spec = |replacement: &str| RuleSpec {
        regex: Some("x".into()),
        replacement: Some(replacement.into()),
        separator: Some(";".into()),
        action: Some("labeldrop".into()),
        ..RuleSpec::default()
    };
    assert!(Rule::new(&spec("$1")).is_ok());
    assert_eq!(Rule::new(&spec("y")).unwrap_err().field, "action");
    let with_source = RuleSpec { source_labels: vec!["a".into()], ..spec("$1") };
    assert_eq!(Rule::new(&with_source).unwrap_err().field, "action");
}
