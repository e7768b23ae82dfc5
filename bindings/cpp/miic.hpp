// miic.hpp: header-only C++17 wrapper of miic (医保影像云 client library), over include/miic.h.
//
// Handles live in std::unique_ptr with miic's deleters, text goes in and out as std::string (UTF-8,
// or GBK bytes for a client opened with text_encoding = "gbk": bytes pass through unchanged), and
// every failure throws miic::Error carrying the MIIC_E_* status and miic's message.
//
//   miic::Client client("miic.toml");
//   client.login({{"hisUserId", "D1001"}, {"doctorName", "张医生"}, ...});
//   std::string url = client.qr_url({{"accessNumber", "ACC1"}, {"modality", "CT"}});
//   client.on_progress([](const miic::Progress& p) { ... });
//   miic::Manifest m = client.dicom_retrieve(study_uid, "D:/images");   // throws DicomError
//   miic::ReportCheck r = miic::validate_report(record_json);
//   miic::Diagnosis d = miic::diagnose("miic.toml");   // the doctor's checks, fix in zh and en
//
// Results with structure (a fetch's manifest, C-FIND matches, a report check) are plain structs
// read from miic's JSON by a small forgiving reader in this header (unknown fields are ignored;
// `raw` keeps the JSON).
//
// Threads: a Client may be used from many threads at once (the C handle is thread-safe); an Error
// is built on the thread whose call failed, right after the call, as miic_last_error requires.
// The progress handler is called on miic's worker threads too.
#ifndef MIIC_HPP
#define MIIC_HPP

#include "miic.h"

#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace miic {

/// The C ABI this header was written for; checked against the loaded library by check_abi().
inline constexpr std::uint32_t abi_version = 1;
static_assert(MIIC_ABI_VERSION == abi_version, "miic.hpp and miic.h come from different miic releases");

/// A failed miic call: status() is the negative MIIC_E_* code, what() is miic's message.
class Error : public std::runtime_error {
public:
    Error(int status, const std::string& message) : std::runtime_error(message), status_(status) {}
    int status() const noexcept { return status_; }
    /// "MIIC_E_NETWORK" etc. (static text).
    const char* status_name() const noexcept { return miic_status_name(status_); }

private:
    int status_;
};

/// Throw Error for a negative status, reading miic_last_error() on this thread; else return it.
inline int check(int status) {
    if (status < 0) {
        const char* msg = miic_last_error();
        throw Error(status, msg ? msg : "");
    }
    return status;
}


/// Compare the loaded library's ABI with this header's; throws Error(MIIC_E_INTERNAL) on mismatch.
/// Client's constructor calls it, once per process.
inline void check_abi() {
    static const bool ok = [] {
        std::uint32_t loaded = miic_abi_version();
        if (loaded != abi_version) {
            throw Error(MIIC_E_INTERNAL, "miic library ABI version " + std::to_string(loaded) +
                                             " does not match miic.hpp ABI version " +
                                             std::to_string(abi_version));
        }
        return true;
    }();
    (void)ok;
}

struct client_deleter {
    void operator()(miic_client* c) const noexcept { miic_close(c); }
};
struct params_deleter {
    void operator()(miic_params* p) const noexcept { miic_params_free(p); }
};
struct string_deleter {
    void operator()(char* s) const noexcept { miic_string_free(s); }
};
using client_ptr = std::unique_ptr<miic_client, client_deleter>;
using params_ptr = std::unique_ptr<miic_params, params_deleter>;
using string_ptr = std::unique_ptr<char, string_deleter>;

/// The library version, e.g. "0.1.0".
inline std::string version() { return miic_version(); }

/// "MIIC_E_TIMEOUT" for -6.
inline std::string status_name(int status) { return miic_status_name(status); }

/// Run an export that returns a string through `char **` (pass it a lambda taking `char **`):
/// throws on a negative status, otherwise returns the text and frees miic's copy.
template <class Call>
std::string call_string(Call&& call) {
    char* raw = nullptr;
    int status = call(&raw);
    string_ptr owned(raw);
    check(status);
    return owned ? std::string(owned.get()) : std::string();
}

/// One object of a fetch (docs/dicom.md); `path` is relative to the destination folder.
struct DicomFile {
    std::string path, source, sop_instance_uid, sop_class_uid, modality, study_instance_uid,
        transfer_syntax;
    std::int64_t size = 0;
    std::string status;  ///< completed | warning | failed
    std::string error, warning;
    bool resumed = false;
};

/// An object that did not arrive whole, and why.
struct DicomFailure {
    std::string sop_instance_uid, sop_class_uid, reason, path;
};

/// The PACS's own final status of a C-GET / C-MOVE and its counts (empty: not said).
struct PacsStatus {
    std::string status;
    std::optional<std::int64_t> completed, failed, warning;
    std::string error_comment;
};

/// What a fetch brought. `raw` is miic's JSON; `parse_error` is set (and only `raw`) when it could
/// not be read. `failures`: the manifest's list of failed objects when it has one, else its
/// failed files.
struct Manifest {
    std::string raw, parse_error;
    std::string method, study_instance_uid, dest_dir, error;
    std::int64_t completed = 0, failed = 0, warning = 0;
    bool study_uid_mismatch = false;
    std::vector<std::string> studies;
    std::optional<PacsStatus> pacs;
    std::int64_t elapsed_ms = 0;
    std::vector<DicomFile> files;
    std::vector<DicomFailure> failures;
};

/// A study the PACS found (C-FIND).
struct StudyMatch {
    std::string study_instance_uid, patient_id, patient_name, study_date, accession_number,
        modalities_in_study;
    std::optional<std::int64_t> number_of_study_related_instances;
};

/// One finding of validate_report; `record` is empty for the reply envelope.
struct ReportProblem {
    std::optional<std::int64_t> record;
    std::string field, rule, severity, message;  ///< severity: error | warning
    bool is_error() const noexcept { return severity == "error"; }
};

/// A sample-reply name (or misspelling) accepted for a table field.
struct ReportAlias {
    std::string alias, field, kind;
    std::int64_t records = 0;
};

/// The verdict of validate_report. `rules` counts every problem per rule (`problems` lists at
/// most 10000: `truncated`); `envelope_code`/`envelope_message` are set for a 4.1.2 reply.
struct ReportCheck {
    std::string raw, parse_error;
    bool conformant = false;
    std::int64_t records = 0, errors = 0, warnings = 0;
    std::map<std::string, std::int64_t> rules, extra_fields;
    std::vector<ReportAlias> aliases;
    std::optional<std::string> envelope_code, envelope_message;
    std::vector<ReportProblem> problems;
    bool truncated = false;
};

/// One check of diagnose(): `result` is ok | warning | failed | skipped; `fix_zh`/`fix_en` say
/// how to fix a failed or warning check (empty otherwise). What was measured is in the raw JSON.
struct DiagnosisCheck {
    std::string id, result, title_zh, title_en, summary_zh, summary_en, fix_zh, fix_en;
    std::int64_t elapsed_ms = 0;
    bool failed() const noexcept { return result == "failed"; }
};

/// The report of diagnose(): `result` is the worst check's (ok | warning | failed).
struct Diagnosis {
    std::string raw, parse_error, result, config;
    std::int64_t elapsed_ms = 0, timeout_ms = 0;
    std::vector<DiagnosisCheck> checks;
    /// The check with this id (library, config, front_end, clock, sm2, outbox, log,
    /// dicom_echo, dicom_move_port, dicom_http), or nullptr.
    const DiagnosisCheck* check(const std::string& id) const {
        for (const DiagnosisCheck& c : checks)
            if (c.id == id) return &c;
        return nullptr;
    }
};

/// Progress of a fetch: `files_done` of `files_total` (0 while not known yet), `bytes_done`.
struct Progress {
    std::uint32_t files_done = 0, files_total = 0;
    std::int64_t bytes_done = 0;
};

/// A failed fetch that reached the PACS or server: manifest() says what landed and what failed
/// (partial success is MIIC_E_DICOM; a lost connection MIIC_E_NETWORK, with what came before).
class DicomError : public Error {
public:
    DicomError(int status, const std::string& message, Manifest manifest)
        : Error(status, message), manifest_(std::make_shared<const Manifest>(std::move(manifest))) {}
    const Manifest& manifest() const noexcept { return *manifest_; }

private:
    std::shared_ptr<const Manifest> manifest_;  // shared: exceptions are copied, cheaply
};

namespace detail {

/// A JSON value: `text` holds a string's bytes or a number's / boolean's literal.
struct json {
    enum class kind { null, boolean, number, string, array, object };
    kind type = kind::null;
    std::string text;
    std::vector<std::string> names;  // objects: one per item
    std::vector<json> items;

    const json* member(const char* name) const {
        if (type != kind::object) return nullptr;
        for (std::size_t i = 0; i < names.size(); ++i)
            if (names[i] == name) return &items[i];
        return nullptr;
    }
    const json* member_of(const char* name, kind k) const {
        const json* v = member(name);
        return v && v->type == k ? v : nullptr;
    }
    std::string str(const char* name) const {
        const json* v = member(name);
        if (!v || v->type == kind::null || v->type == kind::array || v->type == kind::object) return {};
        return v->text;
    }
    std::optional<std::int64_t> integer(const char* name) const {
        const json* v = member(name);
        if (!v || (v->type != kind::number && v->type != kind::string)) return std::nullopt;
        return v->as_integer();
    }
    std::optional<std::int64_t> as_integer() const {
        std::size_t i = 0;
        bool negative = !text.empty() && text[0] == '-';
        if (negative) ++i;
        if (i >= text.size() || text[i] < '0' || text[i] > '9') return std::nullopt;
        std::int64_t n = 0;
        for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) n = n * 10 + (text[i] - '0');
        return negative ? -n : n;
    }
    bool flag(const char* name) const {
        const json* v = member(name);
        return v && v->type == kind::boolean && v->text == "true";
    }
};

/// Reads miic's JSON. Text that is not valid UTF-8 is a GBK client's: there a lead byte's trail
/// byte (which may be '\\' or '"' in ASCII) is stepped over whole inside strings.
class json_parser {
public:
    explicit json_parser(const std::string& text)
        : s_(text.data()), end_(text.data() + text.size()), gbk_(!valid_utf8(text)) {}

    json parse() {
        json v = value(0);
        space();
        if (s_ != end_) fail("text after the value");
        return v;
    }

private:
    const char* s_;
    const char* end_;
    bool gbk_;

    static bool valid_utf8(const std::string& t) {
        for (std::size_t i = 0; i < t.size();) {
            unsigned char c = static_cast<unsigned char>(t[i]);
            std::size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
            if (len == 0 || i + len > t.size()) return false;
            for (std::size_t k = 1; k < len; ++k)
                if ((static_cast<unsigned char>(t[i + k]) & 0xC0) != 0x80) return false;
            i += len;
        }
        return true;
    }
    [[noreturn]] static void fail(const char* why) {
        throw std::runtime_error(std::string("miic's JSON: ") + why);
    }
    void space() {
        while (s_ != end_ && (*s_ == ' ' || *s_ == '\t' || *s_ == '\n' || *s_ == '\r')) ++s_;
    }
    char peek() {
        if (s_ == end_) fail("unexpected end");
        return *s_;
    }
    void expect(char c) {
        space();
        if (peek() != c) fail("unexpected character");
        ++s_;
    }
    unsigned hex4() {
        unsigned code = 0;
        for (int i = 0; i < 4; ++i) {
            char c = peek();
            ++s_;
            code <<= 4;
            if (c >= '0' && c <= '9') code |= static_cast<unsigned>(c - '0');
            else if (c >= 'a' && c <= 'f') code |= static_cast<unsigned>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') code |= static_cast<unsigned>(c - 'A' + 10);
            else fail("bad \\u escape");
        }
        return code;
    }
    static void append_utf8(std::string& out, unsigned code) {
        if (code < 0x80) {
            out += static_cast<char>(code);
        } else if (code < 0x800) {
            out += static_cast<char>(0xC0 | (code >> 6));
            out += static_cast<char>(0x80 | (code & 0x3F));
        } else if (code < 0x10000) {
            out += static_cast<char>(0xE0 | (code >> 12));
            out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (code & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (code >> 18));
            out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (code & 0x3F));
        }
    }
    std::string string() {
        expect('"');
        std::string out;
        for (;;) {
            char c = peek();
            ++s_;
            if (c == '"') return out;
            if (c == '\\') {
                char e = peek();
                ++s_;
                switch (e) {
                case '"': case '\\': case '/': out += e; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    unsigned code = hex4();
                    if (code >= 0xD800 && code <= 0xDBFF && end_ - s_ >= 6 && s_[0] == '\\' && s_[1] == 'u') {
                        s_ += 2;
                        unsigned low = hex4();
                        if (low >= 0xDC00 && low <= 0xDFFF) code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                    }
                    // miic escapes only control characters: ASCII in UTF-8 and GBK alike.
                    append_utf8(out, code);
                    break;
                }
                default: fail("bad escape");
                }
            } else {
                out += c;
                if (gbk_ && static_cast<unsigned char>(c) >= 0x81 && s_ != end_) out += *s_++;
            }
        }
    }
    json value(int depth) {
        if (depth > 128) fail("nested too deep");
        space();
        json v;
        char c = peek();
        if (c == '{' || c == '[') {
            v.type = c == '{' ? json::kind::object : json::kind::array;
            const char close = c == '{' ? '}' : ']';
            ++s_;
            space();
            if (peek() == close) {
                ++s_;
                return v;
            }
            for (;;) {
                if (v.type == json::kind::object) {
                    space();
                    v.names.push_back(string());
                    expect(':');
                }
                v.items.push_back(value(depth + 1));
                space();
                if (peek() != ',') break;
                ++s_;
            }
            expect(close);
        } else if (c == '"') {
            v.type = json::kind::string;
            v.text = string();
        } else {
            const char* start = s_;
            while (s_ != end_ && (std::strchr("abcdefghijklmnopqrstuvwxyz0123456789-+.E", *s_) != nullptr)) ++s_;
            v.text.assign(start, s_);
            if (v.text == "null") v.type = json::kind::null;
            else if (v.text == "true" || v.text == "false") v.type = json::kind::boolean;
            else if (!v.text.empty() && (v.text[0] == '-' || (v.text[0] >= '0' && v.text[0] <= '9'))) v.type = json::kind::number;
            else fail("unexpected character");
        }
        return v;
    }
};

inline std::map<std::string, std::int64_t> read_counts(const json* o) {
    std::map<std::string, std::int64_t> counts;
    if (!o) return counts;
    for (std::size_t i = 0; i < o->items.size(); ++i) {
        auto n = o->items[i].type == json::kind::number ? o->items[i].as_integer() : std::nullopt;
        if (n) counts[o->names[i]] = *n;
    }
    return counts;
}

inline Manifest read_manifest(const char* text) {
    Manifest m;
    m.raw = text;
    json root;
    try {
        root = json_parser(m.raw).parse();
    } catch (const std::exception& e) {
        m.parse_error = e.what();
        return m;
    }
    if (root.type != json::kind::object) {
        m.parse_error = "the manifest is not a JSON object";
        return m;
    }
    m.method = root.str("method");
    m.study_instance_uid = root.str("study_instance_uid");
    m.dest_dir = root.str("dest_dir");
    m.error = root.str("error");
    m.completed = root.integer("completed").value_or(0);
    m.failed = root.integer("failed").value_or(0);
    m.warning = root.integer("warning").value_or(0);
    m.study_uid_mismatch = root.flag("study_uid_mismatch");
    m.elapsed_ms = root.integer("elapsed_ms").value_or(0);
    if (const json* studies = root.member_of("studies", json::kind::array))
        for (const json& s : studies->items)
            if (s.type == json::kind::string) m.studies.push_back(s.text);
    if (const json* pacs = root.member_of("pacs", json::kind::object))
        m.pacs = PacsStatus{pacs->str("status"), pacs->integer("completed"), pacs->integer("failed"),
                            pacs->integer("warning"), pacs->str("error_comment")};
    if (const json* files = root.member_of("files", json::kind::array)) {
        for (const json& f : files->items) {
            if (f.type != json::kind::object) continue;
            DicomFile d;
            d.path = f.str("path");
            d.source = f.str("source");
            d.sop_instance_uid = f.str("sop_instance_uid");
            d.sop_class_uid = f.str("sop_class_uid");
            d.modality = f.str("modality");
            d.study_instance_uid = f.str("study_instance_uid");
            d.transfer_syntax = f.str("transfer_syntax");
            d.size = f.integer("size").value_or(0);
            d.status = f.str("status");
            d.error = f.str("error");
            d.warning = f.str("warning");
            d.resumed = f.flag("resumed");
            m.files.push_back(std::move(d));
        }
    }
    if (const json* failures = root.member_of("failures", json::kind::array)) {
        for (const json& f : failures->items) {
            if (f.type != json::kind::object) continue;
            std::string reason = f.str("reason"), path = f.str("path");
            m.failures.push_back({f.str("sop_instance_uid"), f.str("sop_class_uid"),
                                  reason.empty() ? f.str("error") : reason, path.empty() ? f.str("source") : path});
        }
    } else {
        for (const DicomFile& f : m.files)
            if (f.status == "failed")
                m.failures.push_back({f.sop_instance_uid, f.sop_class_uid, f.error, f.path.empty() ? f.source : f.path});
    }
    return m;
}

inline std::vector<StudyMatch> read_matches(const char* text) {
    const std::string raw = text;
    json root;
    try {
        root = json_parser(raw).parse();
    } catch (const std::exception& e) {
        throw Error(MIIC_E_INTERNAL, std::string("cannot read miic's C-FIND matches: ") + e.what());
    }
    std::vector<StudyMatch> matches;
    if (root.type != json::kind::array) return matches;
    for (const json& m : root.items) {
        if (m.type != json::kind::object) continue;
        matches.push_back({m.str("study_instance_uid"), m.str("patient_id"), m.str("patient_name"),
                           m.str("study_date"), m.str("accession_number"), m.str("modalities_in_study"),
                           m.integer("number_of_study_related_instances")});
    }
    return matches;
}

inline ReportCheck read_report(const char* text) {
    ReportCheck r;
    r.raw = text;
    json root;
    try {
        root = json_parser(r.raw).parse();
    } catch (const std::exception& e) {
        r.parse_error = e.what();
        return r;
    }
    r.conformant = root.flag("conformant");
    r.records = root.integer("records").value_or(0);
    r.errors = root.integer("errors").value_or(0);
    r.warnings = root.integer("warnings").value_or(0);
    r.rules = read_counts(root.member_of("rules", json::kind::object));
    r.extra_fields = read_counts(root.member_of("extra_fields", json::kind::object));
    r.truncated = root.flag("truncated");
    if (const json* envelope = root.member_of("envelope", json::kind::object)) {
        r.envelope_code = envelope->str("code");
        r.envelope_message = envelope->str("message");
    }
    if (const json* aliases = root.member_of("aliases", json::kind::array))
        for (const json& a : aliases->items)
            if (a.type == json::kind::object)
                r.aliases.push_back({a.str("alias"), a.str("field"), a.str("kind"), a.integer("records").value_or(0)});
    if (const json* problems = root.member_of("problems", json::kind::array))
        for (const json& p : problems->items)
            if (p.type == json::kind::object)
                r.problems.push_back({p.integer("record"), p.str("field"), p.str("rule"), p.str("severity"), p.str("message")});
    return r;
}

inline Diagnosis read_diagnosis(const char* text) {
    Diagnosis d;
    d.raw = text;
    json root;
    try {
        root = json_parser(d.raw).parse();
    } catch (const std::exception& e) {
        d.parse_error = e.what();
        return d;
    }
    d.result = root.str("result");
    d.config = root.str("config");
    d.elapsed_ms = root.integer("elapsed_ms").value_or(0);
    d.timeout_ms = root.integer("timeout_ms").value_or(0);
    auto both = [](const json& o, const char* name, std::string& zh, std::string& en) {
        if (const json* t = o.member_of(name, json::kind::object)) {
            zh = t->str("zh");
            en = t->str("en");
        }
    };
    if (const json* checks = root.member_of("checks", json::kind::array))
        for (const json& c : checks->items) {
            if (c.type != json::kind::object) continue;
            DiagnosisCheck check;
            check.id = c.str("id");
            check.result = c.str("result");
            check.elapsed_ms = c.integer("elapsed_ms").value_or(0);
            both(c, "title", check.title_zh, check.title_en);
            both(c, "summary", check.summary_zh, check.summary_en);
            both(c, "fix", check.fix_zh, check.fix_en);
            d.checks.push_back(std::move(check));
        }
    return d;
}

/// The manifest of a fetch: returned on success; on failure carried by DicomError when miic
/// produced one (the call reached the PACS), else a plain Error.
inline Manifest take_manifest(int status, char* raw) {
    std::string message;
    if (status < 0) {
        const char* msg = miic_last_error();
        message = msg ? msg : "";
    }
    string_ptr owned(raw);
    if (status < 0) {
        if (owned) throw DicomError(status, message, read_manifest(owned.get()));
        throw Error(status, message);
    }
    if (!owned) throw Error(MIIC_E_INTERNAL, "miic returned no manifest");
    return read_manifest(owned.get());
}

}  // namespace detail

/// A request's fields under the spec's own names ("doctorName", "accessNumber", …).
class Params {
public:
    Params() : p_(miic_params_new()) {
        if (!p_) throw Error(MIIC_E_INTERNAL, "miic_params_new failed (out of memory)");
    }
    Params(std::initializer_list<std::pair<std::string, std::string>> fields) : Params() {
        for (const auto& f : fields) set(f.first, f.second);
    }
    /// A bag from a flat JSON object (UTF-8).
    static Params from_json(const std::string& json) {
        miic_params* raw = nullptr;
        int status = miic_params_from_json(json.c_str(), &raw);
        params_ptr owned(raw);
        check(status);
        return Params(std::move(owned));
    }
    /// Set a field (replacing an earlier value); returns *this for chaining.
    Params& set(const std::string& key, const std::string& value) {
        check(miic_params_set(p_.get(), key.c_str(), value.c_str()));
        return *this;
    }
    const miic_params* get() const noexcept { return p_.get(); }

private:
    explicit Params(params_ptr p) : p_(std::move(p)) {}
    params_ptr p_;
};

/// A client of the front-end machine; closed (workers joined) when destroyed.
class Client {
public:
    /// Open with a .toml/.json config path or inline JSON text ("{…}").
    explicit Client(const std::string& config) {
        check_abi();
        c_.reset(miic_open(config.c_str()));
        if (!c_) {
            // Why it failed (config, unusable outbox folder, ...), read on this thread at once.
            int status = miic_last_status();
            const char* msg = miic_last_error();
            throw Error(status < 0 ? status : MIIC_E_INTERNAL, msg ? msg : "");
        }
    }

    /// 4.4.3.1 login: keeps the doctor for reminders and logout.
    void login(const Params& doctor) { check(miic_login(c_.get(), doctor.get())); }
    void logout() { check(miic_logout(c_.get())); }
    /// WYHT:// login URL for browser-based hosts ("type" 1 = login, 2 = logout). No network.
    std::string plugin_url(const Params& doctor) {
        return call_string([&](char** out) { return miic_plugin_url(c_.get(), doctor.get(), out); });
    }
    /// 4.4.3.2 reminder, waiting for the cloud's answer.
    void patient_reminder(const Params& patient) { check(miic_patient_reminder(c_.get(), patient.get())); }
    /// 4.4.3.2 reminder, queued to a worker the client owns.
    void patient_reminder_async(const Params& patient) {
        check(miic_patient_reminder_async(c_.get(), patient.get()));
    }
    /// 4.3 the film/report URL to show as a QR code.
    std::string qr_url(const Params& exam) {
        return call_string([&](char** out) { return miic_qr_url(c_.get(), exam.get(), out); });
    }
    /// 4.5 delete notification: MIIC_OK (delivered) or MIIC_QUEUED (stored, retried).
    int delete_notify(const Params& deletion) { return check(miic_delete_notify(c_.get(), deletion.get())); }
    /// SM2 ciphertext of `plain` with the client's configured key and format.
    std::string sm2_encrypt(const std::string& plain) {
        return call_string([&](char** out) { return miic_sm2_encrypt(c_.get(), plain.c_str(), out); });
    }

    /// 4.3 the exam's QR code as a PNG for the printed report (caption 扫描查看数字影像), written
    /// whole or not at all. `exam` may add rendering options: modulePx, sizePx, sizeMm, dpi,
    /// caption ("0" = none), ecLevel.
    void qr_image(const Params& exam, const std::string& png_path) {
        check(miic_qr_image(c_.get(), exam.get(), png_path.c_str()));
    }

    /// Delete notifications waiting in the outbox (from every process sharing it).
    std::uint32_t outbox_pending() {
        std::uint32_t n = 0;
        check(miic_outbox_pending(c_.get(), &n));
        return n;
    }
    /// Delete notifications the cloud rejected (code 400), kept for hospital IT.
    std::uint32_t outbox_dead_count() {
        std::uint32_t n = 0;
        check(miic_outbox_dead_count(c_.get(), &n));
        return n;
    }
    /// Send every pending notification now; Error(MIIC_E_TIMEOUT) when some remain after
    /// `timeout` (the message says how many and why). Blocks the calling thread.
    void outbox_flush(std::chrono::milliseconds timeout) {
        const long long ms = timeout.count();
        check(miic_outbox_flush(c_.get(), static_cast<std::uint32_t>(ms < 0 ? 0 : ms > 0xFFFFFFFFLL ? 0xFFFFFFFFLL : ms)));
    }

    /// C-ECHO the PACS of [dicom]: the health check of spec 4.2.
    void dicom_echo() { check(miic_dicom_echo(c_.get())); }
    /// C-FIND a study: its matches (empty when the PACS does not know it).
    std::vector<StudyMatch> dicom_find(const std::string& study_uid) {
        char* raw = nullptr;
        int status = miic_dicom_find(c_.get(), study_uid.c_str(), &raw);
        string_ptr owned(raw);
        check(status);
        return detail::read_matches(owned ? owned.get() : "[]");
    }
    /// Retrieve a whole study into `dest_dir` (C-GET or C-MOVE), one <SOP Instance UID>.dcm per
    /// object. A failure after the PACS was reached throws DicomError with the manifest.
    Manifest dicom_retrieve(const std::string& study_uid, const std::string& dest_dir) {
        char* raw = nullptr;
        int status = miic_dicom_retrieve(c_.get(), study_uid.c_str(), dest_dir.c_str(), &raw);
        return detail::take_manifest(status, raw);
    }
    /// Download the images of a dcmPath (comma-separated) from [dicom_http] base_url into
    /// `dest_dir`, keeping their folders. Failures as for dicom_retrieve.
    Manifest dicom_fetch_http(const std::string& dcm_path, const std::string& dest_dir) {
        char* raw = nullptr;
        int status = miic_dicom_fetch_http(c_.get(), dcm_path.c_str(), dest_dir.c_str(), &raw);
        return detail::take_manifest(status, raw);
    }

    /// Progress of the fetches, called on the fetching thread or miic's worker threads, one call
    /// at a time; an empty function removes it. The handler must return quickly and must not
    /// call this client; exceptions it throws are swallowed (they must not unwind into miic).
    /// The Client owns the handler.
    void on_progress(std::function<void(const Progress&)> handler) {
        if (!progress_) throw Error(MIIC_E_ARGUMENT, "client was moved from");
        if (!handler) {
            check(miic_set_progress_callback(c_.get(), nullptr, nullptr));
            std::lock_guard<std::mutex> lock(progress_->mutex);
            progress_->handler.reset();
            return;
        }
        {
            std::lock_guard<std::mutex> lock(progress_->mutex);
            progress_->handler = std::make_shared<std::function<void(const Progress&)>>(std::move(handler));
        }
        check(miic_set_progress_callback(c_.get(), &Client::progress_thunk, progress_.get()));
    }

    /// The C handle, for exports this header does not wrap yet (still owned by this Client).
    miic_client* get() const noexcept { return c_.get(); }

    Client(Client&&) noexcept = default;
    Client& operator=(Client&& other) noexcept {
        if (this != &other) {
            c_.reset();  // joins this client's fetches before their progress slot goes
            progress_ = std::move(other.progress_);
            c_ = std::move(other.c_);
        }
        return *this;
    }

private:
    // What miic's user pointer points at. A fetch that started before the handler was replaced
    // or removed still calls it, so the slot lives as long as the client: declared before c_, it
    // is destroyed after miic_close has joined every fetch.
    struct progress_slot {
        std::mutex mutex;
        std::shared_ptr<std::function<void(const Progress&)>> handler;
    };
    static void progress_thunk(void* user, std::uint32_t files_done, std::uint32_t files_total,
                               std::int64_t bytes_done) {
        auto* slot = static_cast<progress_slot*>(user);
        std::shared_ptr<std::function<void(const Progress&)>> h;
        {
            std::lock_guard<std::mutex> lock(slot->mutex);
            h = slot->handler;
        }
        if (!h) return;
        try {
            (*h)(Progress{files_done, files_total, bytes_done});
        } catch (...) {
            // A host bug must not unwind into miic's fetch.
        }
    }

    std::unique_ptr<progress_slot> progress_ = std::make_unique<progress_slot>();
    client_ptr c_;
};

/// Draw any text as a QR code PNG exactly as Client::qr_image does; no client, no network.
/// `options`: the rendering options of qr_image (without: the defaults). `png_path` is UTF-8.
inline void qr_render(const std::string& text, const std::string& png_path) {
    check_abi();
    check(miic_qr_render(text.c_str(), png_path.c_str(), nullptr));
}
inline void qr_render(const std::string& text, const std::string& png_path, const Params& options) {
    check_abi();
    check(miic_qr_render(text.c_str(), png_path.c_str(), options.get()));
}

/// Check report data (spec 4.1: a record object, an array of records, or a 4.1.2 reply; UTF-8
/// JSON) against the table and section 5. Returns the verdict, conformant or not; throws Error
/// (MIIC_E_ARGUMENT, MIIC_E_ENCODING) only for input that is not report data at all.
inline ReportCheck validate_report(const std::string& report_json) {
    check_abi();
    char* raw = nullptr;
    int status = miic_report_validate(report_json.c_str(), &raw);
    string_ptr owned(raw);
    check(status);
    return detail::read_report(owned ? owned.get() : "{}");
}

/// Check this workstation's whole set-up for `config` (as for Client: a .toml/.json path or
/// inline JSON, UTF-8) without opening a client: works on a config Client refuses, and says
/// why. Returns the report whatever the checks found (UTF-8 texts in Chinese and English);
/// throws Error (MIIC_E_ARGUMENT) only when no report could be made. Takes about timeout_ms.
inline Diagnosis diagnose(const std::string& config) {
    check_abi();
    char* raw = nullptr;
    int status = miic_diagnose(config.c_str(), &raw);
    string_ptr owned(raw);
    check(status);
    return detail::read_diagnosis(owned ? owned.get() : "{}");
}

namespace detail {
struct log_slot {
    std::mutex mutex;
    std::shared_ptr<std::function<void(int, const std::string&)>> handler;
};
inline log_slot& log_state() {
    static log_slot slot;
    return slot;
}
inline void log_thunk(void*, std::int32_t level, const char* message) {
    std::shared_ptr<std::function<void(int, const std::string&)>> h;
    {
        std::lock_guard<std::mutex> lock(log_state().mutex);
        h = log_state().handler;
    }
    if (!h) return;
    try {
        (*h)(level, message ? std::string(message) : std::string());
    } catch (...) {
        // A host logging bug must not take the workstation down.
    }
}
}  // namespace detail

/// Receive miic's log lines (level 1 = error … 5 = trace; UTF-8; ID and phone numbers masked).
/// Called from miic's worker threads as well; must not call miic. An empty function removes it.
/// Exceptions the handler throws are swallowed: they must not unwind into the C library.
inline void set_log_callback(std::function<void(int, const std::string&)> handler) {
    check_abi();
    auto& st = detail::log_state();
    if (!handler) {
        miic_set_log_callback(nullptr, nullptr);
        std::lock_guard<std::mutex> lock(st.mutex);
        st.handler.reset();
        return;
    }
    {
        // miic is called outside this lock: the thunk takes it while miic may hold its own.
        std::lock_guard<std::mutex> lock(st.mutex);
        st.handler = std::make_shared<std::function<void(int, const std::string&)>>(std::move(handler));
    }
    miic_set_log_callback(&detail::log_thunk, nullptr);
}

}  // namespace miic

#endif  // MIIC_HPP
