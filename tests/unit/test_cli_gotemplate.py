"""The Go template subset of `--format`: what Go's text/template prints for the forms
people write, and a one-line error (exit 2) for anything else."""

import pytest

from stackup.cli import formatting, gotemplate
from stackup.cli.gotemplate import Struct, TemplateError
from stackup.cli.shapes import command_line, ellipsis, go_json, go_quote, go_time, human_duration

ROW = Struct({"Name": "p-web-1", "State": "running", "ExitCode": 0, "Health": "",
              "Labels": {"tier": "front", "a": "1"}, "Ports": ["80/tcp", "443/tcp"],
              "Config": {"Env": ["A=1", "B=2"], "Healthcheck": None},
              "Networks": {"p_default": {"IPAddress": "10.0.0.2"}, "p_back": {"IPAddress": "10.0.1.2"}},
              "Label": lambda key: {"tier": "front"}.get(key, "")})


@pytest.mark.parametrize("template, expected", [
    ("{{.Name}}\t{{.State}}", "p-web-1\trunning"),
    ("{{.Config.Env}}", "[A=1 B=2]"),
    ("{{.Labels}}", "map[a:1 tier:front]"),
    ("{{json .Labels}}", '{"tier":"front","a":"1"}'),
    ("{{json .Ports}}", '["80/tcp","443/tcp"]'),
    ('{{index .Labels "tier"}}', "front"),
    ('{{index .Labels "missing"}}', ""),
    ('{{.Label "tier"}}', "front"),
    ("{{.Labels.nope}}", "<no value>"),
    ("{{range .Ports}}{{.}};{{end}}", "80/tcp;443/tcp;"),
    ("{{range $i, $p := .Ports}}{{$i}}={{$p}} {{end}}", "0=80/tcp 1=443/tcp "),
    ("{{range $k, $v := .Networks}}{{$k}}:{{$v.IPAddress}} {{end}}", "p_back:10.0.1.2 p_default:10.0.0.2 "),
    ("{{range .Networks}}{{.IPAddress}}{{end}}", "10.0.1.210.0.0.2"),
    ("{{range .Config.Healthcheck}}x{{else}}none{{end}}", "none"),
    ('{{if eq .State "running"}}up{{else}}down{{end}}', "up"),
    ('{{if ne .State "running"}}down{{else if .ExitCode}}bad{{else}}ok{{end}}', "ok"),
    ("{{if .Health}}{{.Health}}{{else}}-{{end}}", "-"),
    ("{{with .Config}}{{len .Env}}{{end}}", "2"),
    ('{{join .Config.Env ","}}', "A=1,B=2"),
    ("{{lower .State | upper}}", "RUNNING"),
    ('{{printf "%-10s|%3d|%q" .Name .ExitCode .State}}', 'p-web-1   |  0|"running"'),
    ("{{println .Name}}", "p-web-1\n"),
    ("{{.Name}} {{- \"  x\" -}} {{.State}}", "p-web-1  xrunning"),
    ("a{{/* a comment */}}b", "ab"),
    ("{{$n := .Name}}{{$n}}/{{$.State}}", "p-web-1/running"),
    ("{{(index .Config.Env 1)}}", "B=2"),
    ("{{and .Name .State}} {{or .Health .State}} {{not .ExitCode}}", "running running true"),
    ('{{split "a:b" ":"}} {{title "hello"}} {{len .Ports}}', "[a b] Hello 2"),
    ("{{gt 3 2}} {{lt 3 2}} {{eq 1 2 1}}", "true false true"),
    ("{{print 1 2 \"a\" 3}}", "1 2a3"),
    ("{{.}}", None),
])
def test_templates_print_as_go_prints(template, expected):
    out = gotemplate.parse(template).render(ROW)
    if expected is not None:
        assert out == expected


@pytest.mark.parametrize("template, message", [
    ("{{.Name", "unclosed action"),
    ("{{.Foo}}", "can't evaluate field Foo in type struct"),
    ("{{nosuch .Name}}", 'function "nosuch" not defined'),
    ("{{if .Name}}x", "an {{end}} is missing"),
    ("{{end}}", "unexpected {{end}}"),
    ('{{template "x"}}', "{{template}} is not supported"),
    ("{{$x = 1}}", "assignment is not supported"),
    ("{{$nope}}", "undefined variable: $nope"),
    ('{{index .Ports 5}}', "index out of range"),
    ('{{eq .Name 1}}', "incompatible types"),
])
def test_what_is_outside_the_subset_is_one_clear_error(template, message):
    with pytest.raises(TemplateError) as caught:
        gotemplate.parse(template).render(ROW)
    assert message in str(caught.value)
    assert caught.value.exit_code == 2 and len(caught.value.lines()) == 1


def test_table_template_has_headers_and_tabwriter_columns(capsys):
    rows = [Struct(Name="p-web-1", RunningFor="2 minutes ago", Label=lambda k: "x"),
            Struct(Name="p-db-1", RunningFor="1 second ago", Label=lambda k: "y")]
    formatting.render("table {{.Name}}\\t{{.RunningFor}}\\t{{.Label \"k\"}}", rows, lambda: None)
    # Go's tabwriter as Docker sets it: at least 10 wide, 3 spaces after the widest cell
    assert capsys.readouterr().out == ("NAME      CREATED         LABEL\n"
                                       "p-web-1   2 minutes ago   x\n"
                                       "p-db-1    1 second ago    y\n")
    formatting.render("table {{.Name}}", [], lambda: None, fields=("Name",))
    assert capsys.readouterr().out == "NAME\n"


def test_json_as_go_marshals_it(capsys):
    formatting.render("json", [Struct(Ports="1->2", Label=lambda k: "")], lambda: None)
    assert capsys.readouterr().out == '{"Ports":"1-\\u003e2"}\n'
    formatting.render("json", [{"A": 1}], lambda: None, json_lines=False)
    assert capsys.readouterr().out == '[{"A":1}]\n'
    assert go_json({"a": "<&>"}) == '{"a":"\\u003c\\u0026\\u003e"}'


def test_docker_value_formats():
    assert go_time("2024-05-01T10:00:00.123456789Z") == "2024-05-01T10:00:00.123456789Z"
    assert go_time("2024-05-01T10:00:00.120000+00:00") == "2024-05-01T10:00:00.12Z"
    assert go_time("") == "0001-01-01T00:00:00Z"
    assert [human_duration(s) for s in (0.5, 1, 59, 60, 61 * 60, 3600, 50 * 3600, 20 * 86400)] == [
        "Less than a second", "1 second", "59 seconds", "About a minute", "About an hour", "About an hour",
        "2 days", "2 weeks"]
    assert command_line(["sh", "-c", "echo hello; exit"]) == "sh -c 'echo hello; exit'"
    assert go_quote(ellipsis("sh -c 'echo hello; echo err'", 20)) == '"sh -c \'echo hello; …"'
