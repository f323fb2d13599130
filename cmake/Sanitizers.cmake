# ASan + UBSan for the dev and ci presets; applied to every target of the project.
if(CHURN_SANITIZE)
  set(CHURN_SANITIZER_FLAGS -fsanitize=address,undefined -fno-omit-frame-pointer
                            -fno-sanitize-recover=undefined)
  add_compile_options(${CHURN_SANITIZER_FLAGS})
  add_link_options(${CHURN_SANITIZER_FLAGS})
endif()
