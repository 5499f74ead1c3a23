"""Bulk tickets: template, upload, column matching, preview and fixes, run options, the run.

A run lives in the server (the Console's JobManager), not in this script; its id is kept in the URL
(?job=<id>) and in the session, so a refresh or a trip to another page finds it again.
"""

import streamlit as st

from commbox_core.access import Action
from commbox_core.errors import ConsoleError, InputFileError
from commbox_core.fields import FIELD_LABELS, Kind, fields_for
from commbox_core.outputs.templates import TEMPLATE_FILENAMES, template_csv
from commbox_core.outputs.views import REASON, VALID, invalid_rows, mapped_columns, preview_frame
from commbox_core.outputs.wording import counted, format_duration
from commbox_core.tables.edits import apply_edits
from commbox_core.tickets.plan import RunPlan
from commbox_core.tickets.prepare import duplicate_rows
from commbox_core.tickets.request import RowDefaults
from ui.editing import clear_edits, paged_editor, stored_edits
from ui.invitations import invitation_choices
from ui.runs import open_run, results_panel, run_summary
from ui.uploads import upload_summary
from ui.text import inert
from ui.widgets import page_start

context = page_start(
    "Bulk tickets",
    "Upload a CSV or Excel file with one agent or customer per row and get a ticket link for each. Rows are checked "
    "before anything is sent; you can fix them here. The run goes on in the server if you leave the page.",
    needs=Action.ISSUE,
)
settings, console = context.settings, context.console

# ---- A run chosen: show it ---------------------------------------------------------------------
job_id = st.query_params.get("job") or st.session_state.get("bulk_job")
if job_id:
    # Keep both: the URL survives a refresh, the session survives a page switch (which drops
    # the URL's query parameters).
    open_run(job_id)
    job = console.job(job_id)
    if st.button("New upload", icon=":material/upload_file:", key="new_upload"):
        open_run(None)
        st.rerun()
    if job is None:
        stored = console.stored_job(job_id)
        if stored is not None:
            st.warning(
                f"Run {inert(job_id)} is {stored.status}: it ran in a server process that has stopped (or another "
                "one), so its links are gone. History shows its outcomes and can resume it or re-issue its links.",
                icon=":material/history:",
            )
            st.page_link("app_pages/history.py", label="Open it in History", icon=":material/open_in_new:",
                         query_params={"run": job_id})
            st.stop()
        st.warning(
            f"Run {inert(job_id)} is not known to this server. Start a new upload.",
            icon=":material/search_off:",
        )
        st.stop()
    # Read once: a run ending between two reads left the page showing it alone, with no timer to
    # rerun the page into its upload's view.
    finished = job.finished
    upload = console.upload(job) if finished else None
    if upload is not None:  # the run has follow-ups: every row of the file once, at its latest outcome
        upload_summary(console, job, upload)
        results_panel(console, upload, run=job)
    else:
        run_summary(console, job, finished=finished)
        if finished:
            results_panel(console, job)
    if job.parent_id and console.job(job.parent_id):
        if st.button(f"Show run {job.parent_id}, which this run followed up", icon=":material/arrow_back:",
                     key="show_parent"):
            open_run(job.parent_id)
            st.rerun()
    for child in console.follow_ups(job):
        if st.button(f"Show follow-up run {child.id} ({child.purpose}, {child.status})",
                     icon=":material/arrow_forward:", key=f"show_child_{child.id}"):
            open_run(child.id)
            st.rerun()
    st.stop()

# ---- Runs going on: a new tab must not hide them ---------------------------------------------------
for going in console.runs_going():
    progress = going.progress()
    notice, action = st.columns([4, 1], vertical_alignment="center")
    notice.info(f"Run **{going.id}** is going on: {inert(going.source_name or 'no file name')}, "
                f"{progress.done:,} of {counted(progress.total, 'row')} done.", icon=":material/sync:")
    if action.button("Open it", icon=":material/open_in_new:", key=f"open_going_{going.id}"):
        open_run(going.id)
        st.rerun()

# ---- 1. Who, and the template ------------------------------------------------------------------
KIND_LABELS = {Kind.AGENT: "Agents: console logins", Kind.CUSTOMER: "Customers: chat links"}
st.subheader("1 · Who gets tickets", anchor=False)
kind = st.segmented_control(
    "Tickets for", list(Kind), format_func=KIND_LABELS.get, default=Kind.AGENT, required=True, key="bulk_kind"
)
templates = st.container(horizontal=True)
for template_kind in Kind:
    templates.download_button(
        f"{template_kind.capitalize()} template", template_csv(template_kind),
        file_name=TEMPLATE_FILENAMES[template_kind], mime="text/csv", icon=":material/download:",
        on_click="ignore", key=f"template_{template_kind}",
    )
st.caption(
    "Templates have the columns the console reads and two example rows the sandbox knows: replace them. "
    "Column names may differ (Phone, E-mail, Customer ID, …): you can match them in step 3."
)

# ---- 2. Upload ---------------------------------------------------------------------------------
st.subheader("2 · Upload the file", anchor=False)
upload = st.file_uploader(
    "CSV or Excel file", key="bulk_upload", max_upload_size=settings.max_upload_mb,
    help=f"CSV: comma, semicolon or tab separated; UTF-8 or a Windows encoding. Excel (.xlsx): each cell as Excel "
         f"shows it, leading zeros and phones kept. At most {settings.max_upload_mb} MB and {settings.max_rows:,} rows.",
)
if upload is None:
    st.info("Upload a CSV or Excel file to continue, or download a template above to start from.",
            icon=":material/upload:")
    st.stop()

cached = st.session_state.get("bulk_table")
if cached is not None and cached[0] != upload.file_id:
    st.session_state.pop("bulk_sheet", None)  # another file: its first sheet, whatever was chosen before
sheet = st.session_state.get("bulk_sheet")
if cached is None or cached[0] != upload.file_id or (sheet is not None and cached[3] and cached[3][0] != sheet):
    try:
        read = console.read_upload(upload.getvalue(), upload.name, sheet)
        unreadable, sheets = None, read.sheets
    except InputFileError as problem:  # the workbook's other sheets are still offered
        read, unreadable, sheets = None, str(problem), console.sheets(upload.getvalue(), upload.name)
    chosen = (sheet or sheets[0], sheets) if sheets else None  # the sheet read, and the workbook's sheets
    cached = (upload.file_id, read, unreadable, chosen)
    st.session_state["bulk_table"] = cached
    clear_edits("bulk_edits")
_, read, unreadable, chosen = cached
sheets = chosen[1] if chosen else ()
if len(sheets) > 1:  # shown even when the sheet read cannot be used: another one may be the right one
    st.selectbox("Sheet", sheets, key="bulk_sheet", help="The workbook has several sheets: the rows come from this one.")
if read is None:
    st.error(inert(unreadable), icon=":material/error:")
    st.stop()
table = read.table

DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
origin = (f"Excel sheet “{inert(table.sheet)}”" if table.sheet is not None
          else f"{table.encoding} · {DELIMITERS.get(table.delimiter, table.delimiter)} separated")
st.caption(f"{len(table):,} rows · {len(table.columns)} columns · {origin}")
if table.row_problems:
    st.warning(
        f"{counted(len(table.row_problems), 'row')} {'is' if len(table.row_problems) == 1 else 'are'} malformed in "
        "the file (see the reason in the preview): "
        "they are not sent unless you fix them below.",
        icon=":material/warning:",
    )

# ---- 3. Columns --------------------------------------------------------------------------------
st.subheader("3 · Match the columns", anchor=False)
automatic = console.match_columns(table, kind).mapping
remembered = console.remembered_mapping(table, kind)
if remembered is not None:
    automatic = remembered[0]
    st.caption(f":material/history: Matched as in run {inert(remembered[1])}, whose file had the same headers. "
               "Change any field below.")
REQUIRED_NOTES = {"username": " (required)", "brand": " (or a default brand)"}
options = [None, *table.columns]
mapping: dict[str, str] = {}
grid = st.columns(4)
for position, name in enumerate(fields_for(kind)):
    label = FIELD_LABELS[name] + (REQUIRED_NOTES.get(name, "") if kind is Kind.AGENT else "")
    with grid[position % 4]:
        chosen = st.selectbox(
            label, options, index=options.index(automatic.get(name)),
            format_func=lambda column: "— not in the file —" if column is None else column,
            key=f"bulk_map_{upload.file_id}_{table.sheet or ''}_{kind}_{name}",  # a sheet has its own columns
        )
    if chosen is not None:
        mapping[name] = chosen
unmatched = [c for c in table.columns if c not in mapping.values()]
reused = sorted({c for c in mapping.values() if list(mapping.values()).count(c) > 1})
notes = []
if kind is Kind.CUSTOMER:
    notes.append("A customer needs a unique ID, an email or a phone.")
if unmatched:
    notes.append("Not sent, but kept in the result files: " + ", ".join(f"“{inert(c)}”" for c in unmatched) + ".")
st.caption(" ".join(n for n in notes if n))
if reused:
    st.warning("The same column feeds several fields: " + ", ".join(inert(c) for c in reused), icon=":material/warning:")

# ---- 4. Options --------------------------------------------------------------------------------
st.subheader("4 · Run options", anchor=False)
left, middle, right = st.columns(3)
with left:
    default_brand = st.text_input("Default brand", value=settings.brand or "", key="bulk_brand",
                                  help="For rows whose brand cell is empty (or when the file has no brand column).")
    default_channel = ""
    if kind is Kind.CUSTOMER:
        default_channel = st.text_input("Chat channel", value=settings.channel_id or "", key="bulk_channel",
                                        help="For rows without a channelId: the chat their link opens.")
with middle:
    one_time = st.toggle("One-time use", key="bulk_one_time",
                         help="Each link works once. A row's oneTimeUse cell, when filled, wins.")
    override = False
    if kind is Kind.CUSTOMER:
        override = st.toggle("Override user info", key="bulk_override",
                             help="CommBox updates each customer's record with the row's values.")
with right:
    concurrency = st.slider("Concurrency", 1, 64, settings.concurrency, key="bulk_concurrency",
                            help="Requests in flight at once. Throttling (429) slows the run down by itself.")
ISSUES = {"tickets": "Tickets: links that work for minutes", "invitations": "Invitation links: wait days for their person"}
issuing = st.segmented_control(
    "Issue", list(ISSUES), format_func=ISSUES.get, default="tickets", required=True, key="bulk_issuing",
    help="A ticket lives 60 s (agents) or 5 min (chat). An invitation link waits until its person clicks it; only "
         "then is a fresh one-time ticket minted. Invitations need the redeem address (COMMBOX_PUBLIC_URL).")
invitations = invitation_choices("bulk_invite", kind) if issuing == "invitations" else None

defaults = RowDefaults(brand=default_brand.strip() or None, channel_id=default_channel.strip() or None,
                       one_time_use=one_time, override_user_info=override)
plan = RunPlan(mapping, defaults)
edits = stored_edits("bulk_edits")
edited = apply_edits(table, edits)
signature = (upload.file_id, kind, tuple(sorted(mapping.items())), defaults,
             st.session_state.get("bulk_edits_version", 0))
memo = st.session_state.get("bulk_prepared")
if memo is None or memo[0] != signature:
    try:
        memo = (signature, console.prepare(edited, kind, plan))
    except InputFileError as problem:  # a required column is not matched
        st.error(inert(problem), icon=":material/error:")
        st.stop()
    st.session_state["bulk_prepared"] = memo
prepared = memo[1]

# ---- 5. Preview --------------------------------------------------------------------------------
st.subheader("5 · Check and fix the rows", anchor=False)
invalid = invalid_rows(prepared)
valid_count = len(prepared) - len(invalid)

counts = st.columns(4)
counts[0].metric("Rows", f"{len(prepared):,}")
counts[1].metric("Valid", f"{valid_count:,}")
counts[2].metric("Invalid", f"{len(invalid):,}")
counts[3].metric("Edited", f"{len(edits):,}")
duplicates = duplicate_rows(prepared)
if duplicates:
    shown = ", ".join(f"{row} (same as {first})" for row, first in list(duplicates.items())[:8])
    more = f" and {len(duplicates) - 8:,} more" if len(duplicates) > 8 else ""
    st.warning(f"{counted(len(duplicates), 'row names', 'rows name')} a person an earlier row already names: "
               f"{'row' if len(duplicates) == 1 else 'rows'} {shown}{more}. "
               "Each still gets its own ticket.", icon=":material/content_copy:")

VIEWS = {"invalid": "Invalid rows", "all": "All rows"}
view = st.segmented_control("Show", list(VIEWS), format_func=VIEWS.get, required=True,
                            default="invalid" if invalid else "all", key=f"bulk_view_{bool(invalid)}")
rows = invalid if view == "invalid" else [p.row for p in prepared]
columns = mapped_columns(mapping, kind)
by_row = {p.row: p for p in prepared}
if not rows:
    st.success("Every row is valid.", icon=":material/check_circle:")
else:
    st.caption("Edit a cell to fix a row: it is checked again at once. Only the columns matched above are shown.")
    paged_editor(
        "bulk_edits", rows, lambda page: preview_frame(edited, [by_row[r] for r in page], columns), columns,
        column_config={
            VALID: st.column_config.CheckboxColumn("valid"),
            REASON: st.column_config.TextColumn("reason", width="large"),
        },
    )
if edits and st.button("Undo all edits", icon=":material/undo:", key="bulk_undo"):
    clear_edits("bulk_edits")
    st.rerun()

# ---- 6. Start ----------------------------------------------------------------------------------
st.subheader("6 · Issue the tickets", anchor=False)
if invalid:
    st.caption(f"{len(invalid):,} invalid row{'s are' if len(invalid) != 1 else ' is'} not sent: "
               "errors.csv lists them with the reason.")
lifespan = console.ticket_lifespan_s(kind)
seconds, rate = console.estimated_run_s(valid_count, concurrency)
if invitations is None and seconds > lifespan:
    st.warning(f"At about {rate:,.0f} rows/s this run takes {format_duration(seconds)}; {kind} links live "
               f"{format_duration(lifespan)}, so the first links are dead before the last are made. "
               "Issue invitation links instead?", icon=":material/timer_off:")
noun = "invitation link" if invitations else "ticket"
if st.button(f"Issue {counted(valid_count, noun)}", type="primary", icon=":material/send:", disabled=valid_count == 0,
             key="bulk_start"):
    try:
        job = console.start_run(edited, prepared, kind, plan, source_sha256=read.sha256, concurrency=concurrency,
                                invitations=invitations, stream_workbook=True)
    except ConsoleError as problem:
        st.error(inert(problem), icon=":material/error:")
        st.stop()
    open_run(job.id)
    st.rerun()
