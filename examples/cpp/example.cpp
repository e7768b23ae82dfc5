// The doctor workflow from C++17: login, patient reminder, QR URL and QR picture, delete
// notification and the outbox, a report record checked, logout.
//
// Build (Linux): g++ -std=c++17 -I include -I bindings/cpp examples/cpp/example.cpp -L target/release -lmiic
// Build (MSVC):  cl /std:c++17 /EHsc /utf-8 /I include /I bindings\cpp examples\cpp\example.cpp windows\x64\miic.lib
// Run:           ./example miic.toml [output folder]
//                (start `miic-cli sim` to try it without a front-end machine)
// This file is UTF-8; the client must keep text_encoding = "utf-8" (MSVC: compile with /utf-8).
#include "miic.hpp"

#include <iostream>

// A report record as the PACS would serve it to the cloud (spec 4.1), checked locally: the value
// errors are listed; missing required fields are counted.
static void check_report() {
    miic::ReportCheck report = miic::validate_report(
        R"({"psnName": "李四", "gend": "1", "accessionNo": "ACC20240001", "examDate": "2024-05-06 25:00:00"})");
    auto missing = report.rules.count("required") ? report.rules.at("required") : 0;
    std::cout << "report conformant " << std::boolalpha << report.conformant << ", " << report.errors << " errors ("
              << missing << " required fields missing), " << report.warnings << " warnings\n";
    for (const miic::ReportProblem& p : report.problems)
        if (p.rule != "required") std::cout << "  " << p.severity << " " << p.field << ": " << p.message << "\n";
}

int main(int argc, char** argv) {
    const std::string config = argc > 1 ? argv[1] : "miic.toml";
    const std::string output = argc > 2 ? argv[2] : ".";
    try {
        miic::set_log_callback([](int level, const std::string& message) {
            std::cerr << "[miic " << level << "] " << message << "\n";
        });
        std::cout << "miic " << miic::version() << "\n";

        miic::Client client(config);
        client.login({
            {"hisUserId", "D1001"},
            {"doctorName", "张医生"},
            {"department", "放射科"},
            {"departmentCode", "0301"},
            {"doctorSex", "1"},
            {"doctorType", "1"},
            {"doctorCode", "YS1001"},
            {"doctorIdCardNo", "11010519491231002X"},
            {"phoneNumber", "13800000000"},
        });
        std::cout << "login ok\n";

        client.patient_reminder({
            {"idCardNo", "440301199001011234"},
            {"patientName", "李四"},
            {"mobilePhone", "13900000000"},
            {"patientType", "1"},
            {"accessNumber", "ACC20240001"},
        });
        std::cout << "reminder ok\n";

        std::cout << "qr url " << client.qr_url({{"accessNumber", "ACC20240001"}, {"modality", "CT"}}) << "\n";

        // The same code as a picture for the printed report: 30 mm wide at 300 dpi.
        const std::string png = output + "/qr-ACC20240001.png";
        client.qr_image({{"accessNumber", "ACC20240001"}, {"modality", "CT"}, {"sizeMm", "30"}, {"dpi", "300"}}, png);
        std::cout << "qr png " << png << "\n";

        int status = client.delete_notify({
            {"patientName", "李四"},
            {"accessionNo", "ACC20240001"},
            {"operateDateTime", "2024-05-06 07:08:09"},
        });
        std::cout << "delete " << miic::status_name(status) << "\n";
        // MIIC_QUEUED: stored in the outbox, miic keeps sending it (also after a restart).
        std::cout << "outbox pending " << client.outbox_pending() << ", rejected " << client.outbox_dead_count() << "\n";

        check_report();

        client.logout();
        std::cout << "logout ok\n";
        return 0;
    } catch (const miic::Error& e) {
        // status() is the MIIC_E_* code; what() is miic's text naming the field or cause.
        std::cout << "miic error status=" << e.status() << " " << e.status_name() << ": " << e.what() << "\n";
        return 2;
    }
}
