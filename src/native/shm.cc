// concur's native part: memory every process of a program tree can map, and futex
// waits on it. Kept to the minimum Node cannot do itself; everything else is in
// TypeScript (src/sync/shm.ts).
//
//   createRegion(size)          memfd ─ mmap(MAP_SHARED) ─► SharedArrayBuffer (fd kept open)
//   openRegion(pid, fd, ino, n) /proc/<pid>/fd/<fd> ─ mmap ─► SharedArrayBuffer (cached per inode)
//   regionOf(sab)               [fd, inode, size] of a region this process maps, else undefined
//   wait(sab, byte, expected, ms) / wake(sab, byte, count)    FUTEX_WAIT / FUTEX_WAKE (shared)
//   waitAsync(sab, byte, expected, ms, cb)                   the same wait on a waiter thread,
//                                                            cb(result) on this thread's loop
//   reapChild(pid)              waitpid(pid) on a detached thread: a child whose owner is gone
//   watchParent(ppid, ms)       a detached thread that SIGKILLs this process once its parent
//                               is no longer ppid (checked every ms): no V8 to boot, as the
//                               Worker that did this did, ~150 ms before a child could start
//
// A region lives while any SharedArrayBuffer over it lives in any thread of the process
// (V8 counts them in one BackingStore); its deleter unmaps it and closes the fd. The
// memfd itself is freed by the kernel once no process maps it nor holds its fd, SIGKILL
// included: nothing is ever named in /dev/shm. Its size is sealed (F_SEAL_SHRINK, GROW):
// any process of the tree can open it through /proc, and a shrink from there would kill
// every process mapping it with SIGBUS at its next touch; openRegion maps nothing else.
#include <node.h>
#include <uv.h>
#include <v8.h>

#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <signal.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using v8::Array;
using v8::BackingStore;
using v8::Context;
using v8::Function;
using v8::FunctionCallbackInfo;
using v8::Global;
using v8::HandleScope;
using v8::Isolate;
using v8::Local;
using v8::Number;
using v8::Object;
using v8::SharedArrayBuffer;
using v8::Value;

namespace {

struct Region {
  int fd;
  ino_t ino;
  size_t size;
  std::weak_ptr<BackingStore> store;
};

// Globals are never destroyed: detached waiter threads still use them while the
// process exits, and destroying a condition variable with waiters blocks exit for ever.
std::mutex& regions_mu = *new std::mutex;
std::map<uintptr_t, Region>& regions = *new std::map<uintptr_t, Region>;  // by base address

void Unmap(void* data, size_t length, void*) {
  int fd = -1;
  {
    std::lock_guard<std::mutex> g(regions_mu);
    auto it = regions.find(reinterpret_cast<uintptr_t>(data));
    if (it != regions.end()) {
      fd = it->second.fd;
      regions.erase(it);
    }
  }
  munmap(data, length);
  if (fd >= 0) close(fd);
}

// True when args[0..n) are numbers and, from `sab` on, args[sab] is a SharedArrayBuffer;
// throws a TypeError otherwise (whatever JavaScript passes, nothing here may crash).
bool Check(const FunctionCallbackInfo<Value>& args, int n, int sab = -1) {
  for (int i = 0; i < n; i++) {
    bool ok = i == sab ? args[i]->IsSharedArrayBuffer() : args[i]->IsNumber();
    if (!ok) {
      Isolate* isolate = args.GetIsolate();
      isolate->ThrowException(v8::Exception::TypeError(v8::String::NewFromUtf8(isolate, "concur_shm: bad argument").ToLocalChecked()));
      return false;
    }
  }
  return true;
}

void Throw(Isolate* isolate, const std::string& what, int err) {
  std::string msg = what + ": " + strerror(err);
  isolate->ThrowException(v8::Exception::Error(v8::String::NewFromUtf8(isolate, msg.c_str()).ToLocalChecked()));
}

// Maps `fd` (owned from here on) and returns its SharedArrayBuffer.
Local<Value> MapFd(Isolate* isolate, int fd, size_t size, const char* what) {
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    Throw(isolate, what, e);
    return Local<Value>();
  }
  void* base = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    int e = errno;
    close(fd);
    Throw(isolate, what, e);
    return Local<Value>();
  }
  std::shared_ptr<BackingStore> store = SharedArrayBuffer::NewBackingStore(base, size, Unmap, nullptr);
  {
    std::lock_guard<std::mutex> g(regions_mu);
    regions[reinterpret_cast<uintptr_t>(base)] = Region{fd, st.st_ino, size, store};
  }
  return SharedArrayBuffer::New(isolate, store);
}

void CreateRegion(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  if (!Check(args, 1)) return;
  double want = args[0].As<Number>()->Value();
  if (!(want >= 1 && want <= 1e12)) return Throw(isolate, "createRegion", EINVAL);
  size_t size = static_cast<size_t>(want);
  int fd = static_cast<int>(syscall(SYS_memfd_create, "concur", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (fd < 0) return Throw(isolate, "memfd_create", errno);
  if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
    int e = errno;
    close(fd);
    return Throw(isolate, "ftruncate", e);
  }
  if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    int e = errno;
    close(fd);
    return Throw(isolate, "seal the region", e);
  }
  Local<Value> sab = MapFd(isolate, fd, size, "mmap");
  if (!sab.IsEmpty()) args.GetReturnValue().Set(sab);
}

void OpenRegion(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  if (!Check(args, 4)) return;
  for (int i = 0; i < 4; i++) {
    double x = args[i].As<Number>()->Value();
    if (!(x >= 0 && x <= 9007199254740991.0) || x != static_cast<double>(static_cast<int64_t>(x))) return Throw(isolate, "openRegion", EINVAL);
  }
  int pid = static_cast<int>(args[0].As<Number>()->Value());
  int theirs = static_cast<int>(args[1].As<Number>()->Value());
  ino_t ino = static_cast<ino_t>(args[2].As<Number>()->Value());
  size_t size = static_cast<size_t>(args[3].As<Number>()->Value());
  {
    // Mapped here already (by this thread or another): the same memory, once.
    std::lock_guard<std::mutex> g(regions_mu);
    for (auto& entry : regions) {
      if (entry.second.ino != ino || entry.second.size != size) continue;
      std::shared_ptr<BackingStore> store = entry.second.store.lock();
      if (store) return args.GetReturnValue().Set(SharedArrayBuffer::New(isolate, store));
    }
  }
  std::string path = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(theirs);
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return Throw(isolate, "open " + path, errno);
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_ino != ino || static_cast<size_t>(st.st_size) != size) {
    close(fd);
    // The number was reused for another file: the region's holder let it go.
    return Throw(isolate, "open " + path, ENOENT);
  }
  int seals = fcntl(fd, F_GET_SEALS);
  if (seals < 0 || (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW)) {
    close(fd);
    // A file anyone may shrink under the mapping (a reference that lies): not a region.
    return Throw(isolate, "open " + path + ": not a region (its size is not sealed)", EPERM);
  }
  Local<Value> sab = MapFd(isolate, fd, size, "mmap");
  if (!sab.IsEmpty()) args.GetReturnValue().Set(sab);
}

void RegionOf(const FunctionCallbackInfo<Value>& args) {
  Isolate* isolate = args.GetIsolate();
  if (!args[0]->IsSharedArrayBuffer()) return;
  uintptr_t base = reinterpret_cast<uintptr_t>(args[0].As<SharedArrayBuffer>()->Data());
  Region r;
  {
    std::lock_guard<std::mutex> g(regions_mu);
    auto it = regions.find(base);
    if (it == regions.end()) return;
    r = it->second;
  }
  Local<Context> context = isolate->GetCurrentContext();
  Local<Array> out = Array::New(isolate, 3);
  out->Set(context, 0, Number::New(isolate, r.fd)).Check();
  out->Set(context, 1, Number::New(isolate, static_cast<double>(r.ino))).Check();
  out->Set(context, 2, Number::New(isolate, static_cast<double>(r.size))).Check();
  args.GetReturnValue().Set(out);
}

// 0: woken (or a spurious return: the caller re-checks), 1: the word did not hold
// `expected`, 2: timed out.
int FutexWait(int32_t* addr, int32_t expected, double ms) {
  struct timespec ts;
  struct timespec* tp = nullptr;
  if (ms >= 0 && ms < 1e12) {
    ts.tv_sec = static_cast<time_t>(ms / 1000);
    ts.tv_nsec = static_cast<long>((ms - ts.tv_sec * 1000.0) * 1e6);
    tp = &ts;
  }
  long r = syscall(SYS_futex, addr, FUTEX_WAIT, expected, tp, nullptr, 0);
  if (r == 0) return 0;
  if (errno == EAGAIN) return 1;
  if (errno == ETIMEDOUT) return 2;
  return 0;  // EINTR
}

// The word at byte args[1] of the SharedArrayBuffer args[0], or null (a TypeError or
// RangeError thrown) when the arguments do not name an aligned word inside it.
int32_t* WordOf(const FunctionCallbackInfo<Value>& args, int numbers) {
  if (!Check(args, 2 + numbers, 0)) return nullptr;
  Local<SharedArrayBuffer> sab = args[0].As<SharedArrayBuffer>();
  double at = args[1].As<Number>()->Value();
  if (!(at >= 0 && at + 4 <= static_cast<double>(sab->ByteLength())) || static_cast<int64_t>(at) % 4 != 0) {
    Isolate* isolate = args.GetIsolate();
    isolate->ThrowException(v8::Exception::RangeError(v8::String::NewFromUtf8(isolate, "concur_shm: word out of range").ToLocalChecked()));
    return nullptr;
  }
  return reinterpret_cast<int32_t*>(static_cast<char*>(sab->Data()) + static_cast<size_t>(at));
}

void Wait(const FunctionCallbackInfo<Value>& args) {
  int32_t* word = WordOf(args, 2);
  if (word == nullptr) return;
  int32_t expected = static_cast<int32_t>(args[2].As<Number>()->Value());
  double ms = args[3].As<Number>()->Value();
  args.GetReturnValue().Set(FutexWait(word, expected, ms));
}

void Wake(const FunctionCallbackInfo<Value>& args) {
  int32_t* word = WordOf(args, 1);
  if (word == nullptr) return;
  double count = args[2].As<Number>()->Value();
  int n = !(count >= 1) ? 0 : count >= 2147483647.0 ? 2147483647 : static_cast<int>(count);
  long r = syscall(SYS_futex, word, FUTEX_WAKE, n, nullptr, nullptr, 0);
  args.GetReturnValue().Set(static_cast<int>(r < 0 ? 0 : r));
}

// ---- async waits: waiter threads, each sleeping on many futexes at once ----
//
//   JS thread ─ waitAsync ─► a waiter's inbox, ring its bell ─► waiter thread:
//       futex_waitv([bell, word 1 .. word 127]) ─► the ended waits ─► env->done ─ uv_async ─► cb(result)
//
// One thread sleeps on up to 127 words (Linux 5.16's futex_waitv) and on its own bell,
// which a new wait rings to be taken in; so a program whose coroutines await hundreds of
// primitives needs a few threads, not one each. Where the kernel lacks futex_waitv a
// thread sleeps on one word, as FUTEX_WAIT can. Deadlines are absolute from the moment
// of the call, so a wait that waited for a thread never outlasts its timeout.
// Never the libuv pool: its four threads serve fs, dns and crypto, and a wait could hold
// one for the whole slice.

struct Env;

struct Request {
  std::shared_ptr<Env> env;
  std::shared_ptr<BackingStore> store;  // keeps the memory mapped while waited on
  int32_t* addr;
  int32_t expected;
  struct timespec deadline;  // CLOCK_MONOTONIC; tv_sec < 0: none
  uint32_t id;
  int result;
};

struct Env {
  Isolate* isolate;
  uv_async_t async;
  std::mutex mu;
  bool closed = false;
  std::vector<Request> done;
  std::map<uint32_t, Global<Function>> callbacks;
  uint32_t next = 1;
  size_t pending = 0;  // waits whose callback has not run: they keep the loop alive
};

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif
#ifndef FUTEX_32
#define FUTEX_32 2
#endif

// The kernel's struct futex_waitv, spelled out so that older headers build too.
struct WaitV {
  uint64_t val;
  uint64_t uaddr;
  uint32_t flags;
  uint32_t reserved;
};

constexpr size_t kWordsPerThread = 127;  // futex_waitv takes 128 words; one is the bell
// Beyond this many threads, a wait queues in the least busy one's inbox until it has
// room; every wait lasts at most its caller's slice (a quarter second), so room comes.
constexpr size_t kMaxThreads = 64;
constexpr size_t kMaxThreadsSingle = 256;  // one word each, without futex_waitv

struct Waiter {
  std::atomic<int32_t> bell{0};
  std::vector<Request> inbox;  // under pool_mu
  size_t load = 0;             // waits in its inbox and in hand, under pool_mu
};

std::mutex& pool_mu = *new std::mutex;
std::vector<Waiter*>& waiters = *new std::vector<Waiter*>;  // never freed: detached threads use them

bool HasWaitV() {
  static const bool has = [] {
    // CONCUR_FUTEX_WAITV=0 takes the one-word path, as on a kernel older than 5.16 (tests).
    const char* forced = getenv("CONCUR_FUTEX_WAITV");
    if (forced != nullptr && strcmp(forced, "0") == 0) return false;
    // Supported: EINVAL for an empty vector. Anything else is not: ENOSYS from an older
    // kernel, EPERM from a seccomp profile that predates the call (containers), on which
    // every later futex_waitv would fail at once and its waiter thread spin for ever.
    long r = syscall(SYS_futex_waitv, nullptr, 0, 0, nullptr, CLOCK_MONOTONIC);
    return r < 0 && errno == EINVAL;
  }();
  return has;
}

struct timespec Now() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts;
}

bool Before(const struct timespec& a, const struct timespec& b) {
  return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

struct timespec DeadlineIn(double ms) {
  struct timespec ts = Now();
  if (!(ms >= 0 && ms < 1e12)) {
    ts.tv_sec = -1;  // none
    return ts;
  }
  int64_t ns = ts.tv_nsec + static_cast<int64_t>(ms * 1e6);
  ts.tv_sec += static_cast<time_t>(ns / 1000000000);
  ts.tv_nsec = static_cast<long>(ns % 1000000000);
  return ts;
}

void Deliver(Request&& req) {
  req.store.reset();
  std::shared_ptr<Env> env = req.env;
  std::lock_guard<std::mutex> g(env->mu);
  if (env->closed) return;
  env->done.push_back(std::move(req));
  uv_async_send(&env->async);
}

// The waits of `held` that have ended (woken, the word changed, the deadline passed)
// leave it and are delivered; the rest stay. `woken` is the held index the kernel named
// (-1: none). futex_waitv names only the last woken entry of its vector, which lists
// `held` newest first: so the waits after `woken` in `held` may have been woken too, and
// a wake spent on one is never repeated (a Lock wakes one waiter until that one looks),
// so they are delivered as woken (a spurious wake at worst: the caller re-checks).
void Settle(Waiter* self, std::vector<Request>& held, long woken) {
  struct timespec now = Now();
  std::vector<Request> ended;
  size_t kept = 0;
  for (size_t i = 0; i < held.size(); i++) {
    Request& r = held[i];
    if (woken >= 0 && static_cast<long>(i) >= woken) r.result = 0;
    else if (__atomic_load_n(r.addr, __ATOMIC_SEQ_CST) != r.expected) r.result = 1;
    else if (r.deadline.tv_sec >= 0 && !Before(now, r.deadline)) r.result = 2;
    else {
      if (kept != i) held[kept] = std::move(r);
      kept++;
      continue;
    }
    ended.push_back(std::move(r));
  }
  held.resize(kept);
  if (ended.empty()) return;
  {
    std::lock_guard<std::mutex> g(pool_mu);
    self->load -= ended.size();
  }
  for (Request& r : ended) Deliver(std::move(r));
}

void WaiterMain(Waiter* self, bool vectored) {
  std::vector<Request> held;
  std::vector<WaitV> v;
  const size_t room = vectored ? kWordsPerThread : 1;
  for (;;) {
    int32_t rung = self->bell.load();
    {
      std::lock_guard<std::mutex> g(pool_mu);
      size_t take = std::min(room - held.size(), self->inbox.size());
      for (size_t i = 0; i < take; i++) held.push_back(std::move(self->inbox[i]));
      self->inbox.erase(self->inbox.begin(), self->inbox.begin() + take);
    }
    // The soonest deadline bounds the sleep; a wait without one, none.
    struct timespec soonest;
    soonest.tv_sec = -1;
    for (const Request& r : held)
      if (r.deadline.tv_sec >= 0 && (soonest.tv_sec < 0 || Before(r.deadline, soonest))) soonest = r.deadline;
    struct timespec* limit = soonest.tv_sec >= 0 ? &soonest : nullptr;
    long woken = -1;
    if (!vectored) {
      if (held.empty()) {
        syscall(SYS_futex, &self->bell, FUTEX_WAIT_PRIVATE, rung, nullptr, nullptr, 0);
        continue;
      }
      // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, as futex_waitv does.
      long r = syscall(SYS_futex, held[0].addr, FUTEX_WAIT_BITSET, held[0].expected, limit, nullptr, FUTEX_BITSET_MATCH_ANY);
      if (r == 0) woken = 0;
    } else {
      // Newest first: a word woken often is re-waited often, so it sits near the front,
      // and few entries come before it to be treated as woken with it (see Settle).
      v.clear();
      v.push_back(WaitV{static_cast<uint32_t>(rung), reinterpret_cast<uintptr_t>(&self->bell), FUTEX_32 | FUTEX_PRIVATE_FLAG, 0});
      for (size_t i = held.size(); i-- > 0;) v.push_back(WaitV{static_cast<uint32_t>(held[i].expected), reinterpret_cast<uintptr_t>(held[i].addr), FUTEX_32, 0});
      long r = syscall(SYS_futex_waitv, v.data(), v.size(), 0, limit, CLOCK_MONOTONIC);
      if (r > 0) woken = static_cast<long>(held.size()) - r;  // entry 0 is the bell, then held newest first
    }
    Settle(self, held, woken);
  }
}

// Hands a wait to the least busy thread with room (a new one when none has), and rings it.
void Submit(Request&& req) {
  const bool vectored = HasWaitV();
  const size_t room = vectored ? kWordsPerThread : 1;
  const size_t most = vectored ? kMaxThreads : kMaxThreadsSingle;
  Waiter* to = nullptr;
  bool fresh = false;
  {
    std::lock_guard<std::mutex> g(pool_mu);
    for (Waiter* w : waiters)
      if (to == nullptr || w->load < to->load) to = w;
    if ((to == nullptr || to->load >= room) && waiters.size() < most) {
      to = new Waiter;
      waiters.push_back(to);
      fresh = true;
    }
    to->inbox.push_back(std::move(req));
    to->load++;
  }
  if (fresh) {
    std::thread(WaiterMain, to, vectored).detach();
    return;
  }
  to->bell.fetch_add(1);
  syscall(SYS_futex, &to->bell, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

void OnDone(uv_async_t* handle) {
  Env* env = static_cast<Env*>(handle->data);
  std::vector<Request> done;
  {
    std::lock_guard<std::mutex> g(env->mu);
    done.swap(env->done);
  }
  Isolate* isolate = env->isolate;
  HandleScope scope(isolate);
  for (Request& req : done) {
    if (env->pending > 0 && --env->pending == 0) uv_unref(reinterpret_cast<uv_handle_t*>(&env->async));
    auto it = env->callbacks.find(req.id);
    if (it == env->callbacks.end()) continue;
    Local<Function> cb = it->second.Get(isolate);
    env->callbacks.erase(it);
    Local<Value> argv[1] = {Number::New(isolate, req.result)};
    Local<Context> context = cb->GetCreationContext().ToLocalChecked();
    v8::Context::Scope cscope(context);
    node::MakeCallback(isolate, context->Global(), cb, 1, argv, {0, 0});
  }
}

void CloseEnv(void* arg);

}  // namespace

// Per-thread state (each worker thread loads the addon into its own environment).
struct Binding {
  std::shared_ptr<Env> env;
};

namespace {

void CloseEnv(void* arg) {
  auto* binding = static_cast<Binding*>(arg);
  std::shared_ptr<Env> env = binding->env;
  {
    std::lock_guard<std::mutex> g(env->mu);
    env->closed = true;
    env->callbacks.clear();
    env->done.clear();  // each holds the Env: left here, the Env would hold itself for ever
  }
  // The handle is freed with its Env, once its close callback ran and no waiter holds it.
  auto* keep = new std::shared_ptr<Env>(env);
  env->async.data = keep;
  uv_close(reinterpret_cast<uv_handle_t*>(&env->async), [](uv_handle_t* h) { delete static_cast<std::shared_ptr<Env>*>(h->data); });
  delete binding;
}

}  // namespace

static void WaitAsyncImpl(const FunctionCallbackInfo<Value>& args) {
  auto* binding = static_cast<Binding*>(args.Data().As<v8::External>()->Value());
  std::shared_ptr<Env> env = binding->env;
  Isolate* isolate = args.GetIsolate();
  int32_t* word = WordOf(args, 2);
  if (word == nullptr) return;
  if (!args[4]->IsFunction()) {
    isolate->ThrowException(v8::Exception::TypeError(v8::String::NewFromUtf8(isolate, "concur_shm: bad argument").ToLocalChecked()));
    return;
  }
  Request req;
  req.env = env;
  req.store = args[0].As<SharedArrayBuffer>()->GetBackingStore();
  req.addr = word;
  req.expected = static_cast<int32_t>(args[2].As<Number>()->Value());
  req.deadline = DeadlineIn(args[3].As<Number>()->Value());
  req.id = env->next++;
  req.result = 0;
  env->callbacks.emplace(req.id, Global<Function>(isolate, args[4].As<Function>()));
  // A waiter keeps the program alive, as a blocked Python thread does.
  if (env->pending++ == 0) uv_ref(reinterpret_cast<uv_handle_t*>(&env->async));
  Submit(std::move(req));
}

// A child process is reaped only by the event loop that spawned it, and only while that
// loop lives: one spawned by a worker thread that was terminated stays a zombie for as
// long as the process runs. Node has no waitpid; this waits for it on a thread of its
// own (the child may still be dying) and drops the status, which nobody can receive.
void ReapChild(const FunctionCallbackInfo<Value>& args) {
  if (args.Length() < 1 || !args[0]->IsNumber() || args[0].As<Number>()->Value() < 1) {
    Isolate* isolate = args.GetIsolate();
    isolate->ThrowException(v8::Exception::TypeError(v8::String::NewFromUtf8(isolate, "concur_shm: bad argument").ToLocalChecked()));
    return;
  }
  pid_t pid = static_cast<pid_t>(args[0].As<Number>()->Value());
  std::thread([pid] {
    int status;
    while (waitpid(pid, &status, 0) == -1 && errno == EINTR) {
    }
  }).detach();
}

void WatchParent(const FunctionCallbackInfo<Value>& args) {
  if (args.Length() < 2 || !args[0]->IsNumber() || !args[1]->IsNumber() || args[0].As<Number>()->Value() < 1 || args[1].As<Number>()->Value() < 1) {
    Isolate* isolate = args.GetIsolate();
    isolate->ThrowException(v8::Exception::TypeError(v8::String::NewFromUtf8(isolate, "concur_shm: bad argument").ToLocalChecked()));
    return;
  }
  pid_t parent = static_cast<pid_t>(args[0].As<Number>()->Value());
  long ms = static_cast<long>(args[1].As<Number>()->Value());
  std::thread([parent, ms] {
    struct timespec every = {ms / 1000, (ms % 1000) * 1000000L};
    // Orphaned, a process is reparented (to init or a subreaper): its ppid changes.
    while (getppid() == parent) {
      while (nanosleep(&every, &every) == -1 && errno == EINTR) {
      }
      every = {ms / 1000, (ms % 1000) * 1000000L};
    }
    kill(getpid(), SIGKILL);
  }).detach();
}

NODE_MODULE_INIT(/* exports, module, context */) {
  Isolate* isolate = context->GetIsolate();
  auto env = std::make_shared<Env>();
  env->isolate = isolate;
  uv_async_init(node::GetCurrentEventLoop(isolate), &env->async, OnDone);
  env->async.data = env.get();
  // Referenced only while a wait is pending (see WaitAsyncImpl).
  uv_unref(reinterpret_cast<uv_handle_t*>(&env->async));
  auto* binding = new Binding{env};
  node::AddEnvironmentCleanupHook(isolate, CloseEnv, binding);
  Local<v8::External> data = v8::External::New(isolate, binding);
  auto set = [&](const char* name, v8::FunctionCallback fn) {
    Local<Function> f = v8::FunctionTemplate::New(isolate, fn, data)->GetFunction(context).ToLocalChecked();
    exports->Set(context, v8::String::NewFromUtf8(isolate, name).ToLocalChecked(), f).Check();
  };
  set("createRegion", CreateRegion);
  set("openRegion", OpenRegion);
  set("regionOf", RegionOf);
  set("wait", Wait);
  set("wake", Wake);
  set("waitAsync", WaitAsyncImpl);
  set("reapChild", ReapChild);
  set("watchParent", WatchParent);
}
