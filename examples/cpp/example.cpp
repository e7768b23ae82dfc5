// The doctor workflow from C++17: login, patient reminder, QR URL, delete notification, logout.
//
// Build (Linux): g++ -std=c++17 -I include -I bindings/cpp examples/cpp/example.cpp -L target/release -lmiic
// Build (MSVC):  cl /std:c++17 /EHsc /utf-8 /I include /I bindings\cpp examples\cpp\example.cpp windows\x64\miic.lib
// Run:           ./example miic.toml   (start `miic-cli sim` to try it without a front-end machine)
// This file is UTF-8; the client must keep text_encoding = "utf-8" (MSVC: compile with /utf-8).
#include "miic.hpp"

#include <iostream>

int main(int argc, char** argv) {
    const std::string config = argc > 1 ? argv[1] : "miic.toml";
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

        int status = client.delete_notify({
            {"patientName", "李四"},
            {"accessionNo", "ACC20240001"},
            {"operateDateTime", "2024-05-06 07:08:09"},
        });
        std::cout << "delete " << miic::status_name(status) << "\n";

        client.logout();
        std::cout << "logout ok\n";
        return 0;
    } catch (const miic::Error& e) {
        // status() is the MIIC_E_* code; what() is miic's text naming the field or cause.
        std::cout << "miic error status=" << e.status() << " " << e.status_name() << ": " << e.what() << "\n";
        return 2;
    }
}
