{
  "targets": [
    {
      "target_name": "concur_shm",
      "sources": ["src/native/shm.cc"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wno-cast-function-type"],
      "conditions": [["OS!='linux'", { "type": "none" }]]
    }
  ]
}
