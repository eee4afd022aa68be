// replaced by the inspector library
