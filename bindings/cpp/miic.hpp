// miic.hpp: header-only C++17 wrapper of miic (医保影像云 client library), over include/miic.h.
//
// Handles live in std::unique_ptr with miic's deleters, text goes in and out as std::string (UTF-8,
// or GBK bytes for a client opened with text_encoding = "gbk": bytes pass through unchanged), and
// every failure throws miic::Error carrying the MIIC_E_* status and miic's message.
//
//   miic::Client client("miic.toml");
//   client.login({{"hisUserId", "D1001"}, {"doctorName", "张医生"}, ...});
//   std::string url = client.qr_url({{"accessNumber", "ACC1"}, {"modality", "CT"}});
//
// Threads: a Client may be used from many threads at once (the C handle is thread-safe); an Error
// is built on the thread whose call failed, right after the call, as miic_last_error requires.
#ifndef MIIC_HPP
#define MIIC_HPP

#include "miic.h"

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
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
            const char* msg = miic_last_error();
            throw Error(MIIC_E_CONFIG, msg ? msg : "");
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

    /// The C handle, for exports this header does not wrap yet (still owned by this Client).
    miic_client* get() const noexcept { return c_.get(); }

private:
    client_ptr c_;
};

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
