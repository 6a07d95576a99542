//! Templates × data × expected output, and expected errors, written from
//! Go's `text/template` rules and podman's report functions.

use serde_json::{json, Value};

use super::{Template, TemplateError};

fn data() -> Value {
    json!({
        "ID": "3f7b1c0d2e4a",
        "Names": ["web", "web-alias"],
        "Image": "docker.io/library/alpine:latest",
        "State": {"Status": "running", "Pid": 42, "Running": true, "ExitCode": 0, "Health": null},
        "Config": {
            "Labels": {"app": "web", "tier": "front", "a.b": "dotted"},
            "Env": ["A=1", "B=2"]
        },
        "Mounts": [
            {"Type": "bind", "Source": "/src", "Destination": "/dst", "RW": true},
            {"Type": "volume", "Source": "v1", "Destination": "/data", "RW": false}
        ],
        "Size": 1050,
        "Ratio": 0.5,
        "Empty": "",
        "Zero": 0,
        "None": [],
        "Small": {"A": 1}
    })
}

fn run(tmpl: &str) -> Result<String, TemplateError> {
    Template::parse("t", tmpl)?.execute(&data())
}

#[test]
fn outputs() {
    let cases: &[(&str, &str)] = &[
        // Fields, maps, slices.
        ("{{.ID}}", "3f7b1c0d2e4a"),
        ("{{.State.Status}}", "running"),
        ("{{ .State.Pid }}", "42"),
        ("{{.Names}}", "[web web-alias]"),
        ("{{.Config.Labels.app}}", "web"),
        ("{{.Config.Labels.missing}}", "<no value>"),
        ("{{.Small}}", "map[A:1]"),
        ("{{.Ratio}} {{.Zero}} {{.Size}}", "0.5 0 1050"),
        ("{{(index .Mounts 1).Destination}}", "/data"),
        ("{{$.ID}}", "3f7b1c0d2e4a"),
        // index.
        ("{{index .Names 0}}", "web"),
        (r#"{{index .Config.Labels "app"}}"#, "web"),
        (r#"{{index .Config.Labels "a.b"}}"#, "dotted"),
        (r#"{{index .Config.Labels "missing"}}"#, ""),
        (r#"{{index .Mounts 1 "Type"}}"#, "volume"),
        ("{{index .ID 0}}", "51"),
        // podman's functions.
        (r#"{{join .Names ","}}"#, "web,web-alias"),
        (r#"{{join .None ","}}"#, ""),
        ("{{.Image | upper}}", "DOCKER.IO/LIBRARY/ALPINE:LATEST"),
        (r#"{{lower "ABC"}}"#, "abc"),
        ("{{title .State.Status}}", "Running"),
        (
            "{{json .Config.Labels}}",
            r#"{"a.b":"dotted","app":"web","tier":"front"}"#,
        ),
        ("{{json .Names}}", r#"["web","web-alias"]"#),
        ("{{json .Small}}", r#"{"A":1}"#),
        (r#"{{json "<&>"}}"#, r#""<&>""#),
        ("{{truncate .ID 5}}", "3f7b1"),
        ("{{truncate .ID 12}}", "3f7b1c0d2e4a"),
        ("{{truncate .ID 50}}", "3f7b1c0d2e4a"),
        ("[{{pad .State.Status 1 2}}]", "[ running  ]"),
        ("[{{pad .Empty 1 2}}]", "[]"),
        (r#"{{split "a,b,c" ","}}"#, "[a b c]"),
        (r#"{{index (split "a,b,c" ",") 1}}"#, "b"),
        (r#"{{split "" ","}}"#, "[]"),
        // Go builtins.
        (
            "{{len .Names}} {{len .ID}} {{len .Config.Labels}}",
            "2 12 3",
        ),
        ("{{.Names | len}}", "2"),
        (
            r#"{{printf "%-8s|%5d" .State.Status .State.Pid}}"#,
            "running |   42",
        ),
        (r#"{{printf "%q" .ID}}"#, "\"3f7b1c0d2e4a\""),
        (
            r#"{{printf "%v" .Config.Labels}}"#,
            "map[a.b:dotted app:web tier:front]",
        ),
        (r#"{{.State.Status | printf "<%s>"}}"#, "<running>"),
        ("{{println .ID}}", "3f7b1c0d2e4a\n"),
        (r#"{{print 1 2 "a" "b" 3}}"#, "1 2ab3"),
        ("{{slice .ID 0 4}} {{slice .Names 1}}", "3f7b [web-alias]"),
        ("{{not .Empty}} {{not .ID}}", "true false"),
        ("{{and .ID .Empty}}|{{and 1 0 2}}|{{and 1 2}}", "|0|2"),
        (r#"{{or .Empty "fallback"}}|{{or 0 .Zero}}"#, "fallback|0"),
        (
            "{{eq .State.Pid 42}} {{eq .State.Status \"a\" \"running\"}}",
            "true true",
        ),
        (r#"{{ne .State.Status "running"}}"#, "false"),
        (
            "{{lt 1 2}} {{le 1.5 1}} {{gt \"b\" \"a\"}} {{ge .Size 1050}}",
            "true false true true",
        ),
        ("{{eq .Ratio 0.5}} {{eq .Zero 0.0}}", "true true"),
        ("{{eq .Config.Labels.missing \"x\"}}", "false"),
        // Control structures.
        ("{{if .State.Running}}up{{else}}down{{end}}", "up"),
        (
            r#"{{if eq .State.Status "exited"}}x{{else if eq .State.Status "running"}}r{{else}}o{{end}}"#,
            "r",
        ),
        ("{{if .Empty}}a{{else if .Zero}}b{{else}}c{{end}}", "c"),
        ("{{if not .Empty}}empty{{end}}", "empty"),
        ("{{if .State.Health}}h{{else}}no health{{end}}", "no health"),
        ("{{range .Mounts}}{{.Destination}} {{end}}", "/dst /data "),
        (
            "{{range $i, $m := .Mounts}}{{$i}}={{$m.Source}};{{end}}",
            "0=/src;1=v1;",
        ),
        ("{{range $m := .Mounts}}{{$m.Type}},{{end}}", "bind,volume,"),
        (
            "{{range $k, $v := .Config.Labels}}{{$k}}:{{$v}},{{end}}",
            "a.b:dotted,app:web,tier:front,",
        ),
        ("{{range .Config.Env}}{{.}};{{end}}", "A=1;B=2;"),
        ("{{range .None}}x{{else}}none{{end}}", "none"),
        (
            "{{range .Config.Labels.missing}}x{{else}}none{{end}}",
            "none",
        ),
        (
            "{{range .Mounts}}{{$.ID}} {{end}}",
            "3f7b1c0d2e4a 3f7b1c0d2e4a ",
        ),
        (
            "{{range .Mounts}}{{if .RW}}{{continue}}{{end}}{{.Source}}{{end}}",
            "v1",
        ),
        ("{{range .Mounts}}{{.Source}}{{break}}{{end}}", "/src"),
        ("{{range 3}}{{.}}{{end}}", "012"),
        ("{{with .State}}{{.Pid}}{{end}}", "42"),
        ("{{with .Empty}}x{{else}}empty{{end}}", "empty"),
        ("{{with .Empty}}x{{else with .Size}}{{.}}{{end}}", "1050"),
        ("{{with $s := .State}}{{$s.Status}}{{end}}", "running"),
        // Variables and scope.
        ("{{$x := .State.Pid}}{{$x}}", "42"),
        ("{{$x := 1}}{{$x = 2}}{{$x}}", "2"),
        ("{{$x := 1}}{{if true}}{{$x := 5}}{{$x}}{{end}}{{$x}}", "51"),
        ("{{$x := 1}}{{range .Mounts}}{{$x = 7}}{{end}}{{$x}}", "7"),
        ("{{print ($y := 3)}}{{$y}}", "33"),
        (
            "{{$m := 0}}{{range $m = .Mounts}}{{end}}{{$m.Source}}",
            "v1",
        ),
        // Literals.
        (r#"{{"tab\there"}}"#, "tab\there"),
        ("{{`raw\\t`}}", "raw\\t"),
        (
            "{{'a'}} {{1.5e3}} {{0x1F}} {{-3}} {{true}} {{017}}",
            "97 1500 31 -3 true 15",
        ),
        // Text, trimming, comments.
        ("a  {{- .ID -}}  b", "a3f7b1c0d2e4ab"),
        ("a\n{{- .ID}}\n", "a3f7b1c0d2e4a\n"),
        ("{{/* a comment */}}x{{- /* trimmed */ -}} y", "xy"),
        ("no actions at all", "no actions at all"),
        ("", ""),
        ("{{.ID}}{{/* multi\nline */}}", "3f7b1c0d2e4a"),
    ];
    for (tmpl, want) in cases {
        match run(tmpl) {
            Ok(got) => assert_eq!(got, *want, "template {tmpl:?}"),
            Err(e) => panic!("template {tmpl:?} failed: {e}"),
        }
    }
}

#[test]
fn exec_errors() {
    let cases: &[(&str, &str)] = &[
        (
            "{{.Nope}}",
            r#"template: t:1:2: executing "t" at <.Nope>: can't evaluate field Nope in type map[string]interface {}"#,
        ),
        (
            "{{.State.Nope}}",
            r#"template: t:1:8: executing "t" at <.State.Nope>: can't evaluate field Nope in type map[string]interface {}"#,
        ),
        (
            "{{.State.Health.Status}}",
            r#"template: t:1:8: executing "t" at <.State.Health.Status>: nil pointer evaluating interface {}.Status"#,
        ),
        (
            "{{.ID.Foo}}",
            r#"template: t:1:5: executing "t" at <.ID.Foo>: can't evaluate field Foo in type string"#,
        ),
        (
            "{{index .Names 5}}",
            r#"template: t:1:2: executing "t" at <index .Names 5>: error calling index: index out of range: 5"#,
        ),
        (
            "{{index .Config.Labels 1}}",
            r#"template: t:1:2: executing "t" at <index .Config.Labels 1>: error calling index: value has type int; should be string"#,
        ),
        (
            r#"{{index .Names "a"}}"#,
            r#"template: t:1:2: executing "t" at <index .Names "a">: error calling index: cannot index slice/array with type string"#,
        ),
        (
            "{{join .Names}}",
            r#"template: t:1:2: executing "t" at <join .Names>: wrong number of args for join: want 2 got 1"#,
        ),
        (
            "{{upper .Size}}",
            r#"template: t:1:2: executing "t" at <upper .Size>: wrong type for value; expected string; got int"#,
        ),
        (
            "{{upper .Config.Labels.missing}}",
            r#"template: t:1:2: executing "t" at <upper .Config.Labels.missing>: invalid value; expected string"#,
        ),
        (
            "{{range .ID}}{{end}}",
            r#"template: t:1:8: executing "t" at <range .ID>: range can't iterate over 3f7b1c0d2e4a"#,
        ),
        (
            "{{.ID | .Image}}",
            r#"template: t:1:8: executing "t" at <.Image>: Image has arguments but cannot be invoked as function"#,
        ),
        (
            r#"{{.Label "x"}}"#,
            r#"template: t:1:2: executing "t" at <.Label>: can't evaluate field Label in type map[string]interface {}"#,
        ),
        (
            r#"{{.Config.Labels.app "x"}}"#,
            r#"template: t:1:9: executing "t" at <.Config.Labels.app>: app is not a method but has arguments"#,
        ),
        (
            r#"{{"a" 1}}"#,
            r#"template: t:1:2: executing "t" at <"a">: can't give argument to non-function "a""#,
        ),
        (
            "line1\n  {{.Nope}}",
            r#"template: t:2:4: executing "t" at <.Nope>: can't evaluate field Nope in type map[string]interface {}"#,
        ),
        (
            "{{lt .State.Running true}}",
            r#"template: t:1:2: executing "t" at <lt .State.Running true>: error calling lt: invalid type for comparison"#,
        ),
        (
            "{{eq .ID 1}}",
            r#"template: t:1:2: executing "t" at <eq .ID 1>: error calling eq: incompatible types for comparison"#,
        ),
        (
            "{{len .Size}}",
            r#"template: t:1:2: executing "t" at <len .Size>: error calling len: len of type int"#,
        ),
        (
            "{{truncate .ID -1}}",
            r#"template: t:1:2: executing "t" at <truncate .ID -1>: error calling truncate: runtime error: slice bounds out of range [:-1]"#,
        ),
        (
            "{{nil}}",
            r#"template: t:1:2: executing "t" at <nil>: nil is not a command"#,
        ),
    ];
    for (tmpl, want) in cases {
        match run(tmpl) {
            Ok(out) => panic!("template {tmpl:?} should fail, printed {out:?}"),
            Err(e) => {
                assert!(matches!(e, TemplateError::Exec { .. }), "{tmpl:?}: {e:?}");
                assert_eq!(e.to_string(), *want, "template {tmpl:?}");
            }
        }
    }
}

#[test]
fn parse_errors() {
    let cases: &[(&str, &str)] = &[
        (
            "{{nope .ID}}",
            r#"template: t:1: function "nope" not defined"#,
        ),
        ("{{.ID", "template: t:1: unclosed action"),
        ("{{if .ID}}x", "template: t:1: unexpected EOF"),
        ("{{end}}", "template: t:1: unexpected {{end}}"),
        ("{{else}}", "template: t:1: unexpected {{else}}"),
        ("{{$x}}", r#"template: t:1: undefined variable "$x""#),
        ("{{$x = 1}}", r#"template: t:1: undefined variable "$x""#),
        (
            "{{if true}}{{$x := 1}}{{end}}{{$x}}",
            r#"template: t:1: undefined variable "$x""#,
        ),
        ("{{break}}", "template: t:1: {{break}} outside {{range}}"),
        (
            "{{range .A}}{{else}}{{continue}}{{end}}",
            "template: t:1: {{continue}} outside {{range}}",
        ),
        (
            r#"{{template "x"}}"#,
            "template: t:1: {{template}} is not supported by husk templates",
        ),
        ("{{if}}{{end}}", "template: t:1: missing value for if"),
        (
            "{{.A | 1}}",
            "template: t:1: non executable command in pipeline stage 2",
        ),
        (
            "{{if .A}}{{else}}{{else}}{{end}}",
            "template: t:1: expected end; found {{else}}",
        ),
        ("{{.A:}}", "template: t:1: expected :="),
        (
            "{{\"x\".A}}",
            r#"template: t:1: unexpected . after term "\"x\"""#,
        ),
        (
            "{{$a, $b := .}}",
            "template: t:1: too many declarations in command",
        ),
        ("x\n{{(.A}}", "template: t:2: unclosed left paren"),
        (
            "{{ .A ! }}",
            "template: t:1: unrecognized character in action: U+0021 '!'",
        ),
    ];
    for (tmpl, want) in cases {
        match Template::parse("t", tmpl) {
            Ok(_) => panic!("template {tmpl:?} should not parse"),
            Err(e) => {
                assert!(matches!(e, TemplateError::Parse { .. }), "{tmpl:?}: {e:?}");
                assert_eq!(e.to_string(), *want, "template {tmpl:?}");
            }
        }
    }
}

#[test]
fn deep_nesting_is_refused_not_a_crash() {
    let deep = format!("{{{{{}1{}}}}}", "(".repeat(101), ")".repeat(101));
    let err = Template::parse("t", &deep).unwrap_err();
    assert_eq!(
        err.to_string(),
        "template: t:1: max expression depth exceeded"
    );
    let ok = format!("{{{{{}1{}}}}}", "(".repeat(99), ")".repeat(99));
    assert_eq!(
        Template::parse("t", &ok)
            .unwrap()
            .execute(&Value::Null)
            .unwrap(),
        "1"
    );
}

#[test]
fn parsed_once_executes_many() {
    let t = Template::parse("ps", "{{.ID}}:{{.State.Status}}").unwrap();
    assert_eq!(t.name(), "ps");
    for (id, st) in [("a", "running"), ("b", "exited")] {
        let row = json!({"ID": id, "State": {"Status": st}});
        assert_eq!(t.execute(&row).unwrap(), format!("{id}:{st}"));
    }
    let mut out = String::from("> ");
    t.execute_into(&mut out, &json!({"ID": "c", "State": {"Status": "x"}}))
        .unwrap();
    assert_eq!(out, "> c:x");
}
