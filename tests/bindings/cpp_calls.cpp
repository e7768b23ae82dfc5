// Every export miic.hpp wraps beyond the doctor workflow, from C++17: report validation of a
// broken record (the field named), DICOM (echo, find, retrieve with a progress handler the
// client owns, HTTP dcmPath download), QR PNGs, the outbox, params from JSON; each failure as
// miic::Error / miic::DicomError with its status.
// Run by tests/bindings.rs as:
//   cpp_calls <config> <work dir> <study uid> <object count> <dcm path> <dcm path count> <gbk config>
// Prints "calls ok" when every check passed; the Rust test then checks the files it wrote.
#include "miic.hpp"

#include <atomic>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace {

std::vector<std::string> failures;

void expect(bool ok, const std::string& what) {
    if (!ok) failures.push_back(what);
}

template <class Call>
int status_of(Call&& call) {
    try {
        call();
    } catch (const miic::Error& e) {
        return e.status();
    }
    return 0;
}

bool exists(const std::string& path) { return std::ifstream(path).good(); }

void report_calls() {
    // A record whose exam date is no date and whose sex code is not in dictionary 5.2.
    miic::ReportCheck r = miic::validate_report(R"({"examDate": "2024-13-45 25:00:00", "gend": "7"})");
    expect(r.parse_error.empty(), "report unreadable: " + r.parse_error);
    expect(!r.conformant && r.records == 1 && r.errors > 0, "report verdict " + r.raw);
    bool date = false, sex = false;
    for (const miic::ReportProblem& p : r.problems) {
        if (p.field == "examDate" && p.rule == "datetime_format" && p.is_error() && p.record == 0) date = true;
        if (p.field == "gend" && p.rule == "dictionary" && p.is_error()) sex = true;
        if (p.field == "examDate" || p.field == "gend") std::cout << "report " << p.severity << " " << p.field << ": " << p.message << "\n";
    }
    expect(date, "report: no datetime_format error naming examDate");
    expect(sex, "report: no dictionary error naming gend");
    expect(r.rules.count("required") == 1 && r.rules.at("required") > 0, "report: no count of the required rule");

    miic::ReportCheck reply = miic::validate_report(R"({"data": [], "code": 0, "message": "成功"})");
    expect(reply.envelope_code == std::optional<std::string>("0") && reply.envelope_message == std::optional<std::string>("成功"),
           "report envelope " + reply.raw);

    try {
        miic::validate_report("not json");
        expect(false, "a non-JSON report was accepted");
    } catch (const miic::Error& e) {
        expect(e.status() == MIIC_E_ARGUMENT && std::string(e.status_name()) == "MIIC_E_ARGUMENT",
               std::string("non-JSON report: ") + e.status_name() + " " + e.what());
        std::cout << "report of non-JSON " << e.status_name() << ": " << e.what() << "\n";
    }
}

void diagnose_calls(const std::string& config) {
    // The set-up the other calls use is healthy where they need it: cloud and PACS answer.
    miic::Diagnosis d = miic::diagnose(config);
    expect(d.parse_error.empty() && d.checks.size() == 10, "diagnosis unreadable: " + d.raw);
    for (const char* id : {"config", "front_end", "sm2", "dicom_echo"}) {
        const miic::DiagnosisCheck* c = d.check(id);
        expect(c && c->result == "ok", std::string("diagnosis ") + id + ": " + (c ? c->summary_en : "missing"));
    }
    // A config miic_open refuses gets a report naming the key, with its fix in both languages.
    miic::Diagnosis bad = miic::diagnose(R"({"base_url":"http://127.0.0.1:9","hospital_id":"H","retries":3})");
    const miic::DiagnosisCheck* c = bad.check("config");
    expect(bad.result == "failed" && c && c->failed() && c->fix_en.find("'retries'") != std::string::npos,
           "diagnosis of an unknown key: " + bad.raw);
    if (c) std::cout << "diagnose config fix: " << c->fix_zh << "\n";
}

void image_calls(miic::Client& client, const std::string& work, const std::string& study, std::int64_t count,
                 const std::string& dcm_path, std::int64_t http_count) {
    std::atomic<int> events{0};
    miic::Progress last;
    std::mutex last_mutex;
    client.on_progress([&](const miic::Progress& p) {
        ++events;
        std::lock_guard<std::mutex> lock(last_mutex);
        last = p;
    });

    client.dicom_echo();
    std::vector<miic::StudyMatch> matches = client.dicom_find(study);
    expect(matches.size() == 1 && matches[0].study_instance_uid == study && matches[0].patient_name == "王小明",
           "find: " + std::to_string(matches.size()) + " matches");
    expect(client.dicom_find("1.2.3.4.5.6.7.8.9").empty(), "find of an unknown study matched");

    miic::Manifest m = client.dicom_retrieve(study, work + "/study");
    expect(m.parse_error.empty() && m.completed == count && m.failed == 0 && m.files.size() == static_cast<std::size_t>(count),
           "retrieve manifest " + m.raw);
    expect(m.failures.empty() && m.study_instance_uid == study && m.raw.find(study) != std::string::npos, "retrieve manifest fields");
    for (const miic::DicomFile& f : m.files)
        expect(f.status == "completed" && f.size > 0 && exists(work + "/study/" + f.path), "retrieved file " + f.path);
    {
        std::lock_guard<std::mutex> lock(last_mutex);
        expect(events >= count && last.files_done == count && last.files_total == count && last.bytes_done > 0,
               "progress: " + std::to_string(events.load()) + " events");
    }
    std::cout << "retrieved " << m.completed << " files, " << events << " progress events\n";

    try {
        client.dicom_retrieve("1.2.3.4.5.6.7.8.9", work + "/unknown");
        expect(false, "an unknown study was retrieved");
    } catch (const miic::DicomError& e) {
        expect(e.status() == MIIC_E_DICOM && e.manifest().files.empty() && !e.manifest().raw.empty(), "unknown study");
        std::cout << "unknown study " << e.status_name() << ": " << e.what() << "\n";
    }

    // Replacing the handler: the client keeps the slot, the new function receives the events.
    std::atomic<int> http_events{0};
    client.on_progress([&](const miic::Progress&) { ++http_events; });
    miic::Manifest h = client.dicom_fetch_http(dcm_path, work + "/http");
    expect(h.method == "http" && h.completed == http_count && h.files.size() == static_cast<std::size_t>(http_count),
           "http fetch " + h.raw);
    for (const miic::DicomFile& f : h.files) expect(!f.source.empty() && exists(work + "/http/" + f.path), "http file " + f.path);
    expect(http_events > 0, "no progress events during the HTTP fetch");
    client.on_progress(nullptr);

    try {
        client.dicom_fetch_http("\\no\\such.dcm", work + "/missing");
        expect(false, "a missing dcmPath was fetched");
    } catch (const miic::DicomError& e) {
        expect(e.manifest().failures.size() == 1 && !e.manifest().failures[0].reason.empty(), "404 download failures");
    }
}

void other_calls(miic::Client& client, const std::string& work) {
    client.qr_image({{"accessNumber", "ACC-CPP-1"}, {"modality", "CT"}, {"modulePx", "4"}}, work + "/exam.png");
    std::cout << "exam url " << client.qr_url({{"accessNumber", "ACC-CPP-1"}, {"modality", "CT"}}) << "\n";
    miic::qr_render("https://example.org/cpp", work + "/render.png");
    miic::qr_render("https://example.org/cpp", work + "/small.png", {{"modulePx", "2"}, {"caption", "0"}});
    expect(status_of([&] { miic::qr_render("x", work + "/bad.png", {{"sizePx", "10"}, {"modulePx", "3"}}); }) == MIIC_E_ARGUMENT,
           "two size options were accepted");

    expect(client.outbox_pending() == 0 && client.outbox_dead_count() == 0, "outbox not empty");
    client.outbox_flush(std::chrono::seconds(2));

    miic::Params exam = miic::Params::from_json(R"({"accessNumber": "ACC-JSON-1", "modality": "MR"})");
    expect(client.qr_url(exam).rfind("http", 0) == 0, "QR URL of a JSON exam");
    expect(status_of([] { miic::Params::from_json(R"({"accessNumber": [1]})"); }) == MIIC_E_ARGUMENT, "nested params JSON");
}

// A text_encoding = "gbk" client: std::string bytes are GBK both ways. The folder name 影像淺 has
// a 0x5C ('\\') trail byte, so the manifest (GBK JSON) must be read character by character.
void gbk_calls(const std::string& config, const std::string& work, const std::string& study, std::int64_t count) {
    miic::Client gbk(config);
    const std::string folder = "gbk-\xD3\xB0\xCF\xF1\x9C\x5C";
    miic::Manifest m = gbk.dicom_retrieve(study, work + "/" + folder);
    expect(m.parse_error.empty() && m.completed == count && m.files.size() == static_cast<std::size_t>(count),
           "gbk retrieve: " + m.parse_error);
    expect(m.dest_dir.size() >= folder.size() && m.dest_dir.compare(m.dest_dir.size() - folder.size(), folder.size(), folder) == 0,
           "gbk manifest dest_dir");
}

}  // namespace

// A failed open says why: a bad key is the config's fault, an outbox under a plain file the disk's.
void open_failure_calls(const std::string& work) {
    int bad_key = status_of([] { miic::Client c(R"({"base_url":"http://127.0.0.1:9","hospital_id":"H","retries":3})"); });
    expect(bad_key == MIIC_E_CONFIG, "open with an unknown key: status " + std::to_string(bad_key));
    const std::string blocker = work + "/open-blocker";
    std::ofstream(blocker) << "";
    int outbox = status_of([&] {
        miic::Client c(R"({"base_url":"http://127.0.0.1:9","hospital_id":"H","outbox":{"path":")" + blocker +
                       R"(/outbox.db"}})");
    });
    expect(outbox == MIIC_E_IO, "open with an unusable outbox: status " + std::to_string(outbox));
    std::cout << "open with an unusable outbox: " << miic::status_name(outbox) << "\n";
}

int main(int argc, char** argv) {
    if (argc < 8) return 64;
    const std::string config = argv[1], work = argv[2], study = argv[3], dcm_path = argv[5];
    const std::int64_t count = std::stoll(argv[4]), http_count = std::stoll(argv[6]);
    try {
        report_calls();
        diagnose_calls(config);
        open_failure_calls(work);
        miic::Client client(config);
        image_calls(client, work, study, count, dcm_path, http_count);
        other_calls(client, work);
        // A moved client keeps its progress slot; the moved-from one refuses cleanly.
        miic::Client moved(std::move(client));
        moved.on_progress([](const miic::Progress&) {});
        expect(status_of([&] { client.on_progress(nullptr); }) == MIIC_E_ARGUMENT, "moved-from client");
        gbk_calls(argv[7], work, study, count);
    } catch (const miic::Error& e) {
        std::cout << "FAIL miic error status=" << e.status() << " " << e.status_name() << ": " << e.what() << "\n";
        return 1;
    }
    for (const std::string& f : failures) std::cout << "FAIL " << f << "\n";
    if (!failures.empty()) return 1;
    std::cout << "calls ok\n";
    return 0;
}
