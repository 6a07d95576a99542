//! `husk ps`: the default table byte for byte as podman lays it out, `-a`,
//! `-q`, `-l`, `-n`, `--no-trunc`, `-s`, Go templates, `table` templates,
//! `json`, and every `--filter` key of the brief, rootful and rootless.

#[macro_use]
mod engine_common;

use engine_common::table::{self, Table, PS_EMPTY, PS_HEADER, PS_SIZE_EMPTY};
use engine_common::*;

/// The ps header with SIZE, as `-s` prints it.
const PS_SIZE_HEADER: [&str; 8] = [
    "CONTAINER ID",
    "IMAGE",
    "COMMAND",
    "CREATED",
    "STATUS",
    "PORTS",
    "NAMES",
    "SIZE",
];

/// The four containers most ps tests look at: `run1` running (label
/// app=web), `ex3` exited 3 (label app=db), `cr1` created, with a command
/// longer than COMMAND's 17 characters, and `ex0` exited 0 (label tier=x),
/// created in that order.
fn four(env: &mut Env) {
    env.start_detached("run1", &["--label", "app=web"], &["sleep", "1000"]);
    let o = env.run(&[
        "run", "--name", "ex3", "--label", "app=db", "{img}", "sh", "-c", "exit 3",
    ]);
    assert_eq!(o.code(), 3, "run ex3: {o}");
    let id = env.husk.id_of("ex3");
    env.remember("ex3", &id);
    let id = env
        .ok(&[
            "create", "--name", "cr1", "{img}", "echo", "hello", "world", "long", "command", "line",
        ])
        .trim()
        .to_owned();
    env.remember("cr1", &id);
    env.ok(&["run", "--name", "ex0", "--label", "tier=x", "{img}", "true"]);
    let id = env.husk.id_of("ex0");
    env.remember("ex0", &id);
}

/// Checks one ps row by its NAMES cell.
fn ps_row(
    t: &Table,
    v: &Vars,
    name: &str,
    cmd: &[&str],
    status: &str,
    no_trunc: bool,
) -> Result<(), String> {
    let r = t
        .row_where("NAMES", name)
        .ok_or_else(|| format!("no row for {name}: {:?}", t.rows))?;
    let id = if no_trunc {
        v.get(&format!("{name}.id")).to_owned()
    } else {
        v.get(&format!("{name}.short")).to_owned()
    };
    let want = |col: &str, cell: &str| -> Result<(), String> {
        let got = &r[t.col(col)];
        if got == cell {
            Ok(())
        } else {
            Err(format!("{name}: {col} is {got:?}, want {cell:?}"))
        }
    };
    want("CONTAINER ID", &id)?;
    want("IMAGE", v.get("img"))?;
    want("COMMAND", &table::command_cell(cmd, no_trunc))?;
    want("PORTS", "")?;
    table::cell_matches(
        &r[t.col("CREATED")],
        &created_re(),
        &format!("{name} CREATED"),
    )?;
    table::cell_matches(&r[t.col("STATUS")], status, &format!("{name} STATUS"))
}

fn rows_are(t: &Table, names: &[&str]) -> Result<(), String> {
    let mut got = t.column("NAMES");
    got.sort();
    let mut want: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
    want.sort();
    if got == want {
        Ok(())
    } else {
        Err(format!("rows are {got:?}, want {want:?}"))
    }
}

flavours!(
    /// With no containers every listing is empty; the table is just
    /// podman's header, byte for byte.
    fn empty_listings(env) {
        env.check(&[
            row(&["ps"]).prints(PS_EMPTY),
            row(&["ps", "-a"]).prints(PS_EMPTY),
            row(&["ps", "--all"]).prints(PS_EMPTY),
            row(&["container", "ps"]).prints(PS_EMPTY),
            row(&["container", "ls", "-a"]).prints(PS_EMPTY),
            row(&["container", "list"]).prints(PS_EMPTY),
            row(&["ps", "--no-trunc"]).prints(PS_EMPTY),
            row(&["ps", "-n", "1"]).prints(PS_EMPTY),
            row(&["ps", "-l"]).prints(PS_EMPTY),
            row(&["ps", "-s"]).prints(PS_SIZE_EMPTY),
            row(&["ps", "-q"]).prints(""),
            row(&["ps", "-a", "-q"]).prints(""),
            row(&["ps", "--format", "json"]).prints("[]\n"),
            row(&["ps", "--format", "{{.ID}}"]).prints(""),
            row(&["ps", "--format", "table {{.ID}} {{.Names}}"]).prints("CONTAINER ID  NAMES\n"),
            row(&["ps", "--format", "table {{.Names}}\t{{.Status}}"])
                .prints("NAMES       STATUS\n"),
        ]);
    }
);

flavours!(
    /// The default table with running, exited and created containers;
    /// `-a`, `--no-trunc`, `-q`, `-l`, `-n` and `-s`.
    fn table_and_selection(env) {
        four(env);
        env.check(&[
            row(&["ps"]).err(Out::Empty).out(table_out(&PS_HEADER, |t, v| {
                rows_are(t, &["run1"])?;
                ps_row(t, v, "run1", &["sleep", "1000"], &up_re(), false)
            })),
            row(&["ps", "-a"]).err(Out::Empty).out(table_out(&PS_HEADER, |t, v| {
                rows_are(t, &["run1", "ex3", "cr1", "ex0"])?;
                ps_row(t, v, "run1", &["sleep", "1000"], &up_re(), false)?;
                ps_row(t, v, "ex3", &["sh", "-c", "exit 3"], &exited_re(3), false)?;
                ps_row(
                    t,
                    v,
                    "cr1",
                    &["echo", "hello", "world", "long", "command", "line"],
                    "^Created$",
                    false,
                )?;
                ps_row(t, v, "ex0", &["true"], &exited_re(0), false)
            })),
            row(&["ps", "-a", "--no-trunc"])
                .err(Out::Empty)
                .out(table_out(&PS_HEADER, |t, v| {
                    rows_are(t, &["run1", "ex3", "cr1", "ex0"])?;
                    ps_row(t, v, "run1", &["sleep", "1000"], &up_re(), true)?;
                    ps_row(
                        t,
                        v,
                        "cr1",
                        &["echo", "hello", "world", "long", "command", "line"],
                        "^Created$",
                        true,
                    )
                })),
            row(&["ps", "-q"]).prints("{run1.short}\n"),
            row(&["ps", "--quiet", "--no-trunc"]).prints("{run1.id}\n"),
            row(&["ps", "-a", "-q"])
                .err(Out::Empty)
                .out(line_set(&["{run1.short}", "{ex3.short}", "{cr1.short}", "{ex0.short}"])),
            row(&["ps", "-a", "-q", "--no-trunc"])
                .err(Out::Empty)
                .out(line_set(&["{run1.id}", "{ex3.id}", "{cr1.id}", "{ex0.id}"])),
            // --latest: the most recently created container, in any state.
            row(&["ps", "-l", "-q"]).prints("{ex0.short}\n"),
            row(&["ps", "--latest"]).err(Out::Empty).out(table_out(&PS_HEADER, |t, v| {
                rows_are(t, &["ex0"])?;
                ps_row(t, v, "ex0", &["true"], &exited_re(0), false)
            })),
            // --last N: the N most recently created, in any state.
            row(&["ps", "-n", "2", "-q"])
                .err(Out::Empty)
                .out(line_set(&["{cr1.short}", "{ex0.short}"])),
            row(&["ps", "--last", "1", "-q"]).prints("{ex0.short}\n"),
            row(&["ps", "-a", "-s"]).err(Out::Empty).out(table_out(&PS_SIZE_HEADER, |t, _| {
                rows_are(t, &["run1", "ex3", "cr1", "ex0"])?;
                for s in t.column("SIZE") {
                    table::cell_matches(
                        &s,
                        r"^\d+(\.\d+)?[kMGT]?B \(virtual \d+(\.\d+)?[kMGT]?B\)$",
                        "SIZE",
                    )?;
                }
                Ok(())
            })),
            row(&["ps", "-q", "-s"]).fails(125, &["quiet conflicts with size"]),
            row(&["ps", "-l", "-n", "2"]).fails(125, &["last and latest are mutually exclusive"]),
            row(&["ps", "extra-arg"]).fails(125, &["takes no arguments"]),
        ]);
    }
);

flavours!(
    /// Go templates (podman 5's psReporter fields and methods), `table`
    /// templates (whitespace separates columns), and `--format json` with
    /// podman 5's field names.
    fn formats(env) {
        env.start_detached("run1", &["--label", "app=web"], &["sleep", "1000"]);
        let o = env.run(&[
            "run", "--name", "ex3", "--label", "app=db", "{img}", "sh", "-c", "exit 3",
        ]);
        assert_eq!(o.code(), 3, "{o}");
        let id = env.husk.id_of("ex3");
        env.remember("ex3", &id);
        env.check(&[
            // .State is the state word in podman 5 (4.3 printed the status).
            row(&["ps", "-a", "--format", "{{.ID}} {{.Names}} {{.State}}"])
                .err(Out::Empty)
                .out(line_set(&["{run1.short} run1 running", "{ex3.short} ex3 exited"]))
                .v5("podman 4.3's psReporter.State() printed the status text"),
            row(&["ps", "-a", "--format", "{{.Names}}|{{.Status}}"])
                .err(Out::Empty)
                .out(lines_match(&[
                    &format!(r"ex3\|{}", exited_pat(3)),
                    &format!(r"run1\|{}", up_pat()),
                ])),
            row(&["ps", "-a", "--format", "{{.Names}}"])
                .err(Out::Empty)
                .out(line_set(&["run1", "ex3"])),
            // A literal \t in a plain template is a tab, and no header.
            row(&["ps", "-a", "--format", "{{.Names}}\\t{{.ID}}"])
                .err(Out::Empty)
                .out(line_set(&["run1\t{run1.short}", "ex3\t{ex3.short}"])),
            row(&["ps", "-a", "--format", "table {{.ID}} {{.Names}}"])
                .err(Out::Empty)
                .out(table_out(&["CONTAINER ID", "NAMES"], |t, v| {
                    let mut got = t.rows.clone();
                    got.sort();
                    let mut want = vec![
                        vec![v.get("run1.short").to_owned(), "run1".to_owned()],
                        vec![v.get("ex3.short").to_owned(), "ex3".to_owned()],
                    ];
                    want.sort();
                    if got == want {
                        Ok(())
                    } else {
                        Err(format!("rows {got:?}, want {want:?}"))
                    }
                })),
            row(&["ps", "--format", "table {{.Names}}\\t{{.Image}}"])
                .err(Out::Empty)
                .out(table_out(&["NAMES", "IMAGE"], |t, v| {
                    let want = vec![vec!["run1".to_owned(), v.get("img").to_owned()]];
                    if t.rows == want {
                        Ok(())
                    } else {
                        Err(format!("rows {:?}, want {want:?}", t.rows))
                    }
                })),
            row(&["ps", "--format", "{{.Labels}}"]).prints("map[app:web]\n"),
            row(&["ps", "-a", "--format", "{{.Names}}={{.Label \"app\"}}"])
                .err(Out::Empty)
                .out(line_set(&["run1=web", "ex3=db"]))
                .v5("psReporter.Label(name) is podman 5's"),
            row(&["ps", "--format", "{{json .Names}}"]).prints("\"run1\"\n"),
            row(&["ps", "--format", "{{.Image}}"]).prints("{img}\n"),
            row(&["ps", "--format", "{{.ImageID}}"]).out(check(|t, v| {
                let want = format!("{}\n", &v.get("imgid")[..12]);
                if t == want {
                    Ok(())
                } else {
                    Err(format!("want {want:?}"))
                }
            })),
            row(&["ps", "--no-trunc", "--format", "{{.ImageID}}"]).prints("{imgid}\n"),
            row(&["ps", "--format", "{{.Command}}"]).prints("sleep 1000\n"),
            row(&["ps", "-a", "--format", "{{.Names}} {{.ExitCode}} {{.Exited}} {{.AutoRemove}}"])
                .err(Out::Empty)
                .out(line_set(&["run1 0 false false", "ex3 3 true false"])),
            row(&["ps", "--format", "{{.Pid}}"]).err(Out::Empty).out(re(r"^[1-9][0-9]*\n$")),
            row(&["ps", "-a", "--filter", "name=ex3", "--format", "{{.Pid}}"]).prints("0\n"),
            row(&["ps", "--format", "{{.CreatedHuman}}|{{.RunningFor}}|{{.Ports}}|"])
                .err(Out::Empty)
                .out(re(&format!("^{HUMAN} ago\\|{HUMAN} ago\\|\\|\n$"))),
            row(&["ps", "--format", "{{.Bogus}}"])
                .fails(125, &["can't evaluate field Bogus"]),
            row(&["ps", "--format", "{{.Names}"]).fails(125, &["template"]),
            row(&["ps", "-a", "--format", "json"])
                .err(Out::Empty)
                .out(json(ps_json))
                .v5("CIDFile, ExposedPorts and Restarts are podman 5's"),
        ]);
    }
);

/// `ps -a --format json` with `run1` running and `ex3` exited 3: podman 5's
/// ListContainer fields, values as podman fills them.
fn ps_json(v: &serde_json::Value, vars: &Vars) -> Result<(), String> {
    let arr = v.as_array().ok_or("not a JSON array")?;
    if arr.len() != 2 {
        return Err(format!("{} entries, want 2", arr.len()));
    }
    for c in arr {
        has_fields(
            c,
            &[
                "AutoRemove",
                "Command",
                "CreatedAt",
                "CIDFile",
                "Exited",
                "ExitedAt",
                "ExitCode",
                "ExposedPorts",
                "Id",
                "Image",
                "ImageID",
                "IsInfra",
                "Labels",
                "Mounts",
                "Names",
                "Namespaces",
                "Networks",
                "Pid",
                "Pod",
                "PodName",
                "Ports",
                "Restarts",
                "Size",
                "StartedAt",
                "State",
                "Status",
                "Created",
            ],
            "ps json entry",
        )?;
        let name = c["Names"][0].as_str().ok_or("Names[0] not a string")?;
        let want_id = vars.get(&format!("{name}.id"));
        let eq = |k: &str, want: serde_json::Value| -> Result<(), String> {
            if c[k] == want {
                Ok(())
            } else {
                Err(format!("{name}: {k} is {}, want {want}", c[k]))
            }
        };
        eq("Id", want_id.into())?;
        eq("Image", vars.get("img").into())?;
        eq("ImageID", vars.get("imgid").into())?;
        eq("AutoRemove", false.into())?;
        eq("IsInfra", false.into())?;
        if !c["Created"].is_i64() || c["Created"].as_i64() < Some(1) {
            return Err(format!(
                "{name}: Created is {}, want unix seconds",
                c["Created"]
            ));
        }
        let created_at = c["CreatedAt"].as_str().unwrap_or_default();
        table::cell_matches(created_at, &created_re(), "CreatedAt")?;
        match name {
            "run1" => {
                eq("State", "running".into())?;
                eq("Exited", false.into())?;
                eq("ExitCode", 0.into())?;
                eq("Command", serde_json::json!(["sleep", "1000"]))?;
                eq("Labels", serde_json::json!({"app": "web"}))?;
                table::cell_matches(c["Status"].as_str().unwrap_or_default(), &up_re(), "Status")?;
                if c["Pid"].as_i64().unwrap_or(0) <= 0 {
                    return Err(format!("run1: Pid is {}, want > 0", c["Pid"]));
                }
            }
            "ex3" => {
                eq("State", "exited".into())?;
                eq("Exited", true.into())?;
                eq("ExitCode", 3.into())?;
                eq("Pid", 0.into())?;
                eq("Command", serde_json::json!(["sh", "-c", "exit 3"]))?;
                eq("Labels", serde_json::json!({"app": "db"}))?;
                table::cell_matches(
                    c["Status"].as_str().unwrap_or_default(),
                    &exited_re(3),
                    "Status",
                )?;
                if c["ExitedAt"].as_i64().unwrap_or(0) <= 0 {
                    return Err(format!(
                        "ex3: ExitedAt is {}, want unix seconds",
                        c["ExitedAt"]
                    ));
                }
            }
            other => return Err(format!("unexpected container {other}")),
        }
    }
    Ok(())
}

flavours!(
    /// `--filter` keys: status, name (a regex; one of several names),
    /// id (prefix), label (key or key=value, all must match), ancestor
    /// (short name, full reference, image id), exited; different keys AND,
    /// same keys OR; status implies --all (as docker).
    fn filters(env) {
        four(env);
        let all4 = ["{run1.short}", "{ex3.short}", "{cr1.short}", "{ex0.short}"];
        let f = |filter: &str| vec!["ps".to_owned(), "-a".to_owned(), "-q".to_owned(), "--filter".to_owned(), filter.to_owned()];
        let rows_for = |args: Vec<String>, want: &[&str]| {
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            row(&refs).err(Out::Empty).out(line_set(want))
        };
        env.check(&[
            rows_for(f("status=running"), &["{run1.short}"]),
            rows_for(f("status=exited"), &["{ex3.short}", "{ex0.short}"]),
            rows_for(f("status=stopped"), &["{ex3.short}", "{ex0.short}"]),
            rows_for(f("status=created"), &["{cr1.short}"]),
            rows_for(f("status=paused"), &[]),
            row(&["ps", "-q", "--filter", "status=exited"])
                .err(Out::Empty)
                .out(line_set(&["{ex3.short}", "{ex0.short}"]))
                .note("a status filter implies --all"),
            rows_for(f("name=ex"), &["{ex3.short}", "{ex0.short}"]),
            rows_for(f("name=^ex3$"), &["{ex3.short}"]),
            rows_for(f("name=r.n1"), &["{run1.short}"]),
            row(&["ps", "-a", "-q", "--filter", "name=ex3", "--filter", "name=run1"])
                .err(Out::Empty)
                .out(line_set(&["{ex3.short}", "{run1.short}"])),
            row(&["ps", "-q", "--filter", "name=ex"])
                .prints("")
                .note("without -a only running containers"),
            rows_for(f("id={ex3.short}"), &["{ex3.short}"]),
            rows_for(f("id={run1.id}"), &["{run1.short}"]),
            rows_for(f("label=app"), &["{run1.short}", "{ex3.short}"]),
            rows_for(f("label=app=db"), &["{ex3.short}"]),
            rows_for(f("label=tier=x"), &["{ex0.short}"]),
            rows_for(f("label=app=nope"), &[]),
            row(&["ps", "-a", "-q", "--filter", "label=app", "--filter", "status=exited"])
                .err(Out::Empty)
                .out(line_set(&["{ex3.short}"])),
            rows_for(f("ancestor={short}"), &all4)
                .v5("4.3 split the name at the registry's port colon and matched nothing"),
            rows_for(f("ancestor={img}"), &all4),
            rows_for(f("ancestor={imgid}"), &all4),
            rows_for(f("ancestor=nosuchimage"), &[]),
            rows_for(f("exited=3"), &["{ex3.short}"]),
            rows_for(f("exited=0"), &["{ex0.short}"]),
            rows_for(f("exited=1"), &[]),
            row(&["ps", "-a", "--filter", "status=running", "--format", "{{.Names}}"])
                .prints("run1\n"),
            row(&["ps", "-a", "--filter", "status=bogus"])
                .fails(125, &["unknown container state", "bogus"]),
            row(&["ps", "-a", "--filter", "bogus=1"]).fails(125, &["bogus is an invalid filter"]),
            row(&["ps", "-a", "--filter", "status"]).fails(125, &["invalid filter", "status"]),
            row(&["ps", "-a", "--filter", "exited=abc"]).fails(125, &["abc"]),
        ]);
    }
);
